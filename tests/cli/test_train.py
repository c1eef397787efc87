"""handgrad train: its choices, what the model file holds, resuming, progress."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import QUICK, one_line_error, read_csv, run, write_csv

import handgrad as hg
from handgrad.cli import main
from handgrad.datasets.splits import split_indices

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def prices(tmp_path_factory) -> Path:
    """A regression target around 1000, far from the scale of a network's outputs."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 2))
    y = 1000 + 30 * X[:, 0] - 20 * X[:, 1]
    rows = [[*np.round(x, 5), round(t, 4)] for x, t in zip(X, y)]
    return write_csv(tmp_path_factory.mktemp("prices") / "prices.csv", ["a", "b", "price"], rows)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--loss", "mse"], "--loss mse is for regression"),
        (["--loss", "bce"], "--loss bce needs two classes"),
        (["--ignore", "colour"], "--ignore: 'colour' is not a column"),
        (["--ignore", "species"], "'species' is the target"),
        (["--optimizer", "adam", "--momentum", "0.9"], "--momentum is for sgd and rmsprop"),
    ],
)
def test_training_choices_that_do_not_fit_the_data(animals, extra, message, capsys):
    err = one_line_error(capsys, ["train", str(animals), "--target", "species", *QUICK, *extra])
    assert message in err


def test_regression_refuses_a_classification_loss(prices, capsys):
    err = one_line_error(capsys, ["train", str(prices), "--target", "price", "--loss", "bce"])
    assert "--loss bce is for classification" in err


def test_train_saves_what_predict_needs(animals, animals_model):
    meta = hg.load(animals_model).metadata
    assert meta["task"] == "classification" and meta["loss"] == "cross_entropy"
    assert meta["classes"] == ["bird", "cat", "dog"]
    assert meta["feature_names"] == ["height", "weight", "age"]
    assert meta["target_name"] == "species" and meta["n_features"] == 3
    assert meta["training"]["ignore"] == ["id"] and meta["training"]["val_split"] == 0.1
    assert set(meta["results"]) == {"training", "validation"}
    assert meta["results"]["training"]["accuracy"] > 0.85
    # The mean and scale are those of the training rows alone: the validation rows are drawn
    # from the seed's first stream, stratified by class, as cli_train documents.
    rows = read_csv(animals)
    X = np.array([[float(r[c]) for c in ("height", "weight", "age")] for r in rows])
    y = np.unique([r["species"] for r in rows], return_inverse=True)[1]
    split_stream = np.random.SeedSequence(0).spawn(3)[0]
    keep, _ = split_indices(len(X), 0.1, np.random.default_rng(split_stream), y)
    assert len(keep) == 216
    np.testing.assert_allclose(meta["standardize"]["mean"], X[keep].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(meta["standardize"]["scale"], X[keep].std(axis=0), rtol=1e-12)
    assert not np.allclose(meta["standardize"]["mean"], X.mean(axis=0), rtol=1e-6)


def test_standardisation_uses_exactly_the_training_rows(animals, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    argv = ["train", str(animals), "--target", "species", "--ignore", "id", "--val-split", "0"]
    assert main([*argv, *QUICK, "--out", str(out)]) == 0
    rows = read_csv(animals)
    X = np.array([[float(r[c]) for c in ("height", "weight", "age")] for r in rows])
    saved = hg.load(out).metadata["standardize"]
    np.testing.assert_allclose(saved["mean"], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(saved["scale"], X.std(axis=0), rtol=1e-12)


def test_the_same_seed_writes_the_same_file(animals, tmp_path):
    argv = ["train", str(animals), "--target", "species", "--ignore", "id", *QUICK]
    argv += ["--dropout", "0.2"]
    paths = [tmp_path / f"{name}.safetensors" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("7", "7", "8")):
        assert main([*argv, "--seed", seed, "--out", str(path)]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_resuming_from_a_checkpoint_gives_the_uninterrupted_model(tmp_path):
    base = ["train", "--dataset", "digits", "--layers", "16", "--dropout", "0.2", "--verbose", "0"]
    full, resumed = tmp_path / "full.safetensors", tmp_path / "resumed.safetensors"
    checkpoint = str(tmp_path / "run.ckpt")
    assert main([*base, "--epochs", "4", "--out", str(full)]) == 0
    assert main([*base, "--epochs", "2", "--checkpoint", checkpoint]) == 0
    argv = [*base, "--epochs", "4", "--checkpoint", checkpoint, "--resume", checkpoint]
    assert main([*argv, "--out", str(resumed)]) == 0
    assert full.read_bytes() == resumed.read_bytes()


def test_resuming_another_network_is_refused(tmp_path, capsys):
    checkpoint = str(tmp_path / "run.ckpt")
    base = ["train", "--dataset", "digits", "--epochs", "1", "--verbose", "0"]
    assert main([*base, "--layers", "16", "--checkpoint", checkpoint]) == 0
    err = one_line_error(capsys, [*base, "--layers", "8", "--resume", checkpoint])
    assert "was written for a different network" in err
    err = one_line_error(capsys, [*base, "--resume", str(tmp_path / "none.ckpt")])
    assert "--resume: no such file" in err


def test_early_stopping_ends_the_run(capsys):
    argv = ["train", "--dataset", "digits", "--layers", "16", "--epochs", "200", "--verbose", "0"]
    assert main([*argv, "--lr", "0.05", "--early-stopping", "2"]) == 0
    out = capsys.readouterr().out
    epochs = int(out.split("trained ")[1].split()[0])
    assert 3 <= epochs < 200


def test_regression_in_the_target_unit(prices, tmp_path, capsys):
    model = tmp_path / "prices.safetensors"
    argv = ["train", str(prices), "--target", "price", "--layers", "16", "--epochs", "60"]
    assert main([*argv, "--verbose", "0", "--lr", "0.01", "--out", str(model)]) == 0
    meta = hg.load(model).metadata
    assert meta["task"] == "regression" and meta["loss"] == "mse" and meta["classes"] is None
    capsys.readouterr()
    assert main(["predict", str(model), str(prices)]) == 0
    predicted = np.array([float(r["price"]) for r in read_csv(capsys.readouterr().out)])
    truth = np.array([float(r["price"]) for r in read_csv(prices)])
    # the targets spread about ±36 around 1000: a network predicting in standardised units
    # would be off by about 1000
    assert np.abs(predicted - truth).mean() < 5
    assert main(["evaluate", str(model), str(prices)]) == 0
    out = capsys.readouterr().out
    assert float(out.split("r2 ")[1]) > 0.95
    mae = float(out.split("mae ")[1].split()[0])
    assert mae == pytest.approx(np.abs(predicted - truth).mean(), rel=1e-3)
    err = one_line_error(capsys, ["predict", str(model), str(prices), "--probabilities"])
    assert "--probabilities needs a classifier" in err
    err = one_line_error(
        capsys, ["evaluate", str(model), str(prices), "--confusion", str(tmp_path / "c.png")]
    )
    assert "--confusion needs a classifier" in err


def test_progress_through_a_pipe_is_one_line_per_epoch(tmp_path):
    model = tmp_path / "m.safetensors"
    argv = ["train", "--dataset", "digits", "--epochs", "3", "--layers", "16", "--verbose", "1"]
    result = run([*argv, "--out", str(model)])
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\r" not in result.stdout
    epochs = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split(" - ")[0] for line in epochs] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "test accuracy:" in result.stdout and f"saved the model to {model}" in result.stdout


def test_progress_on_a_terminal_is_an_animated_bar():
    pytest.importorskip("tqdm")
    leader, follower = pty.openpty()
    # A new pseudo-terminal is 0 columns wide; give it the size of a usual window.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    argv = ["train", "--dataset", "digits", "--epochs", "2", "--layers", "16", "--verbose", "1"]
    cmd = [sys.executable, "-m", "handgrad.cli", *argv]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    chunks = []
    try:
        while True:  # read while the process writes, so the terminal's buffer never fills
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        proc.stdout.read()
        proc.stdout.close()
        proc.wait(timeout=300)
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "\r" in terminal and "epoch 1/2" in terminal and "batch" in terminal


def test_metadata_is_plain_json(animals_model):
    meta = hg.load(animals_model).metadata
    assert json.loads(json.dumps(meta)) == meta


# Refused before training, or trained safely ------------------------------------------------------


def test_a_target_of_one_class_is_refused_at_train(tmp_path, capsys):
    rows = [[i, i * 2, "cat"] for i in range(20)]
    data = write_csv(tmp_path / "cats.csv", ["a", "b", "species"], rows)
    err = one_line_error(capsys, ["train", str(data), "--target", "species", *QUICK])
    assert "the target 'species' holds one class, 'cat', in all 20 training rows" in err
    assert "a classifier needs at least two" in err


def test_early_stopping_needs_validation_rows(capsys):
    argv = ["train", "--dataset", "digits", *QUICK, "--val-split", "0", "--early-stopping", "3"]
    err = one_line_error(capsys, argv)
    assert (
        "--early-stopping watches the validation loss, but --val-split 0 holds out no rows" in err
    )


@pytest.mark.parametrize(
    ("n_rows", "fraction", "message"),
    [
        (
            4,
            "0.1",
            "--val-split 0.1 holds out 1 of the 4 training rows, but each of the 2 classes with 2 "
            "or more rows needs rows on both sides, so each side needs at least 2 rows: use a "
            "--val-split from 0.5 to 0.5, or 0 to train on every row",
        ),
        (
            40,
            "0.99",
            "--val-split 0.99 holds out 39 of the 40 training rows, but each of the 2 classes with "
            "2 or more rows needs rows on both sides, so each side needs at least 2 rows: use a "
            "--val-split from 0.05 to 0.95, or 0 to train on every row",
        ),
    ],
)
def test_a_validation_split_that_cannot_be_made_says_what_would(
    n_rows, fraction, message, tmp_path, capsys
):
    rows = [[i, "yes" if i % 2 else "no"] for i in range(n_rows)]
    data = write_csv(tmp_path / "small.csv", ["a", "answer"], rows)
    argv = ["train", str(data), "--target", "answer", *QUICK, "--val-split", fraction]
    err = one_line_error(capsys, argv)
    assert message in err


def test_divergence_advice_names_the_command_line_options(capsys):
    argv = ["train", "--dataset", "digits", *QUICK, "--optimizer", "sgd", "--lr", "1e6"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged at epoch 1" in err
    assert (
        "Try a smaller learning rate (--lr) or clipping the gradient norm (--gradient-clip" in err
    )
    assert "gradient_clip=" not in err and "--debug" not in err


def test_gradient_clip_keeps_that_run_finite(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    argv = ["train", "--dataset", "digits", *QUICK, "--optimizer", "sgd", "--lr", "1e6"]
    assert main([*argv, "--gradient-clip", "1e-6", "--out", str(out)]) == 0
    meta = hg.load(out).metadata
    assert meta["training"]["gradient_clip"] == 1e-6
    assert np.isfinite(meta["results"]["training"]["loss"])


def test_a_huge_weight_decay_is_blamed_not_the_learning_rate(capsys):
    argv = ["train", "--dataset", "digits", *QUICK, "--weight-decay", "1e300"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "The weight decay is too strong: each step takes lr · weight_decay = 1e+297" in err
    assert "try --weight-decay below 1 / lr = 1000" in err and "smaller learning rate" not in err


def test_features_near_1e300_train_save_and_predict(tmp_path, capsys):
    """Standardised in float64 by a power of two first, so nothing overflows and no NumPy warning
    escapes (pytest turns warnings into errors here)."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((120, 2))
    rows = [[f"{a * 1e300:.6e}", f"{b:.6f}", "up" if a + b > 0 else "down"] for a, b in X]
    data = write_csv(tmp_path / "huge.csv", ["a", "b", "move"], rows)
    out = tmp_path / "m.safetensors"
    argv = ["train", str(data), "--target", "move", "--layers", "16", "--epochs", "30"]
    argv += ["--val-split", "0", "--verbose", "0", "--lr", "0.01"]
    assert main([*argv, "--out", str(out)]) == 0
    standardize = hg.load(out).metadata["standardize"]
    column = np.array([float(r[0]) for r in rows])
    assert standardize["scale"][0] == pytest.approx(np.std(column / 1e300) * 1e300, rel=1e-12)
    capsys.readouterr()
    assert main(["predict", str(out), str(data)]) == 0
    predicted = [r["move"] for r in read_csv(capsys.readouterr().out)]
    assert np.mean([p == r[2] for p, r in zip(predicted, rows)]) > 0.9


def test_a_regression_target_too_large_for_float32(tmp_path, capsys):
    rows = [[i, 1e25 * (i + 1)] for i in range(30)]
    data = write_csv(tmp_path / "big.csv", ["a", "y"], rows)
    err = one_line_error(capsys, ["train", str(data), "--target", "y", *QUICK])
    assert "the target 'y' reaches 3e+26, too large for float32" in err
    assert "or use --dtype float64" in err


@pytest.mark.parametrize("threads", [None, 2])
def test_threads_reach_every_product_of_the_command(threads, monkeypatch, tmp_path, capsys):
    """--threads N for training and for the evaluations and predictions after it; 1 unless told."""
    seen = []
    for name in ("fit", "evaluate", "predict"):
        original = getattr(hg.Sequential, name)

        def recording(self, *args, _original=original, _name=name, **kwargs):
            seen.append((_name, kwargs.get("threads", "default")))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(hg.Sequential, name, recording)
    extra = [] if threads is None else ["--threads", str(threads)]
    out = tmp_path / "m.safetensors"
    argv = ["train", "--dataset", "digits", *QUICK, "--confusion", str(tmp_path / "c.png"),
            "--out", str(out), *extra]  # fmt: skip
    assert main(argv) == 0
    assert main(["evaluate", str(out), "--dataset", "digits", *extra]) == 0
    expected = 1 if threads is None else threads
    assert {name for name, _ in seen} == {"fit", "evaluate", "predict"}
    assert all(t == expected for _, t in seen), seen
