"""The handgrad command: every subcommand's work, its exit codes, and its one-line errors."""

import csv
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
from reliability import record

import handgrad as hg
from handgrad.cli import app as cli
from handgrad.cli import commands as cli_commands
from handgrad.cli import main
from handgrad.cli.data import Standardizer
from handgrad.datasets.splits import split_indices

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")

COMMANDS = ("demo", "train", "evaluate", "predict", "summary", "trace", "export")
QUICK = ["--epochs", "3", "--layers", "16", "--verbose", "0"]


# Data -------------------------------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def animals(tmp_path_factory) -> Path:
    """Three classes named by strings, decided by two of the three features; an id column."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 3)) * [1.0, 10.0, 100.0] + [0.0, 50.0, 1000.0]
    z = X[:, 0] + (X[:, 1] - 50) / 10
    labels = np.where(z > 0.6, "cat", np.where(z < -0.6, "dog", "bird"))
    rows = [[i, *np.round(x, 4), label] for i, (x, label) in enumerate(zip(X, labels))]
    folder = tmp_path_factory.mktemp("animals")
    return write_csv(folder / "animals.csv", ["id", "height", "weight", "age", "species"], rows)


@pytest.fixture(scope="module")
def prices(tmp_path_factory) -> Path:
    """A regression target around 1000, far from the scale of a network's outputs."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 2))
    y = 1000 + 30 * X[:, 0] - 20 * X[:, 1]
    rows = [[*np.round(x, 5), round(t, 4)] for x, t in zip(X, y)]
    return write_csv(tmp_path_factory.mktemp("prices") / "prices.csv", ["a", "b", "price"], rows)


@pytest.fixture(scope="module")
def animals_model(animals, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "animals.safetensors"
    argv = ["train", str(animals), "--target", "species", "--ignore", "id", "--out", str(out)]
    assert main([*argv, "--epochs", "40", "--layers", "32", "--verbose", "0", "--lr", "0.01"]) == 0
    return out


def read_csv(path_or_text) -> list[dict]:
    text = Path(path_or_text).read_text() if isinstance(path_or_text, Path) else path_or_text
    return list(csv.DictReader(text.splitlines()))


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``handgrad argv`` in a new process, its output through pipes."""
    cmd = [sys.executable, "-m", "handgrad.cli", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


def one_line_error(capsys, argv: list[str], code: int = 2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    record("bad inputs refused (command line)", 1)
    return err


# Help and usage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: handgrad {command}")


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


def test_no_command_is_a_usage_error(capsys):
    err = one_line_error(capsys, [])
    assert err.startswith("handgrad: error: choose a command: demo, train")


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"handgrad {hg.__version__}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--dataset", "imagenet"], "argument --dataset: invalid choice: 'imagenet'"),
        (["train", "--dataset", "digits", "--layers", "64,x"], "argument --layers: expected"),
        (["train", "--dataset", "digits", "--layers", "0"], "got '0'"),
        (["train", "--dataset", "digits", "--lr", "-0.1"], "--lr: expected a number > 0"),
        (["train", "--dataset", "digits", "--lr", "fast"], "--lr: expected a number, got 'fast'"),
        (["train", "--dataset", "digits", "--lr", "nan"], "--lr: expected a finite number"),
        (["train", "--dataset", "digits", "--epochs", "0"], "--epochs: expected an integer >= 1"),
        (["train", "--dataset", "digits", "--dropout", "1"], "--dropout: expected a number in"),
        (["train", "--dataset", "digits", "--val-split", "-0.1"], "--val-split: expected"),
        (["train", "--dataset", "digits", "--loss", "hinge"], "--loss: invalid choice"),
        (["train", "--dataset", "digits", "--optimizer", "lbfgs"], "--optimizer: invalid"),
        (["train", "--dataset", "digits", "--ignore", "a,,b"], "--ignore: expected column"),
        (["train", "--dataset", "digits", "--bogus"], "unrecognized arguments: --bogus"),
        (["train"], "give DATA (a .csv or .npz file) or --dataset NAME"),
        (["train", "x.csv", "--dataset", "digits"], "or --dataset NAME, not both"),
        (["train", "missing.csv", "--target", "y"], "DATA: no such file 'missing.csv'"),
        (["train", "data.txt", "--target", "y"], "DATA: no such file"),
        (["evaluate", "missing.safetensors", "--dataset", "digits"], "no model file at"),
        (["train", "--dataset", "digits", "--target", "y"], "--target and --task are for DATA"),
        (["export", "m.safetensors"], "the following arguments are required: --onnx"),
        (["trace"], "give MODEL (a model file) or --example seed"),
        (["trace", "--example", "seed", "--input", "1,2,3"], "--input is for a MODEL"),
        (["trace", "--example", "mnist"], "--example: invalid choice"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(argv, message, capsys):
    err = one_line_error(capsys, argv)
    assert message in err
    assert err.startswith(f"handgrad {argv[0]}: error: ")


def test_a_data_file_of_another_kind(tmp_path, capsys):
    path = tmp_path / "data.txt"
    path.write_text("a,b\n1,2\n")
    err = one_line_error(capsys, ["train", str(path), "--target", "b"])
    assert "DATA must be a .csv or .npz file" in err


def test_unknown_target_column_lists_the_columns(animals, capsys):
    err = one_line_error(capsys, ["train", str(animals), "--target", "colour", *QUICK])
    assert "target 'colour' is not a column" in err
    assert "id, height, weight, age, species" in err


def test_a_csv_needs_its_target(animals, capsys):
    err = one_line_error(capsys, ["train", str(animals), *QUICK])
    assert "name its target column with --target" in err


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


def test_a_bad_cell_is_named(tmp_path, capsys):
    path = write_csv(tmp_path / "bad.csv", ["a", "y"], [[1, "x"], ["oops", "y"]])
    err = one_line_error(capsys, ["train", str(path), "--target", "y", *QUICK])
    assert "line 3, column 'a': expected a finite number, got 'oops'" in err


def test_outputs_are_checked_before_training(animals, tmp_path, capsys):
    argv = ["train", str(animals), "--target", "species", *QUICK]
    err = one_line_error(capsys, [*argv, "--out", str(tmp_path / "no" / "m.safetensors")])
    assert "--out" in err and "does not exist" in err
    err = one_line_error(capsys, [*argv, "--plot", str(tmp_path)])
    assert "--plot" in err and "is a folder" in err
    err = one_line_error(capsys, [*argv, "--out", str(animals)])
    assert "would overwrite an input file" in err
    same = str(tmp_path / "x.png")
    err = one_line_error(capsys, [*argv, "--plot", same, "--confusion", same])
    assert "--plot and --confusion name the same file" in err


# Training ---------------------------------------------------------------------------------------


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


def test_train_reports_each_part(capsys):
    argv = ["train", "--dataset", "digits", "--epochs", "2", "--layers", "32", "--verbose", "0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        "data: digits, 64 features, 10 classes; rows: 1294 training, 144 validation, 359 test"
        in (out)
    )
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["loss", "accuracy"])
    parts = [line.split()[0] for line in lines[header + 1 : header + 4]]
    assert parts == ["training", "validation", "test"]
    accuracy = float(lines[header + 3].split()[2])
    assert f"test accuracy: {accuracy:.2%}" in out


def test_the_same_seed_writes_the_same_file(animals, tmp_path):
    argv = ["train", str(animals), "--target", "species", "--ignore", "id", *QUICK]
    argv += ["--dropout", "0.2"]
    paths = [tmp_path / f"{name}.safetensors" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("7", "7", "8")):
        assert main([*argv, "--seed", seed, "--out", str(path)]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_a_saved_model_file_follows_the_umask(animals, tmp_path):
    path = tmp_path / "m.safetensors"
    old = os.umask(0o022)
    try:
        assert main(["train", str(animals), "--target", "species", *QUICK, "--out", str(path)]) == 0
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


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


def test_train_writes_curves_and_confusion_matrix(animals, tmp_path):
    curves, confusion = tmp_path / "curves.png", tmp_path / "confusion.png"
    argv = ["train", str(animals), "--target", "species", *QUICK]
    assert main([*argv, "--plot", str(curves), "--confusion", str(confusion)]) == 0
    for path in (curves, confusion):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_binary_classifier_with_bce(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((150, 2))
    rows = [[*x, "yes" if x[0] + x[1] > 0 else "no"] for x in X]
    data = write_csv(tmp_path / "binary.csv", ["u", "v", "answer"], rows)
    model = tmp_path / "b.safetensors"
    argv = ["train", str(data), "--target", "answer", "--loss", "bce", "--out", str(model)]
    assert main([*argv, "--epochs", "30", "--layers", "8", "--verbose", "0"]) == 0
    assert hg.load(model)[-1].n_out == 1
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(data), "--probabilities", "--out", str(out)]) == 0
    predictions = read_csv(out)
    assert list(predictions[0]) == ["answer", "p(no)", "p(yes)"]
    for row in predictions:
        p_no, p_yes = float(row["p(no)"]), float(row["p(yes)"])
        assert p_no + p_yes == pytest.approx(1, abs=1e-6)
        assert row["answer"] == ("yes" if p_yes > 0.5 else "no")
    correct = np.mean([row["answer"] == truth[2] for row, truth in zip(predictions, rows)])
    assert correct > 0.9


def test_npz_data(tmp_path, capsys):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((120, 4))
    y = np.array(["low", "high"])[(X[:, 0] > 0).astype(int)]
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=y)
    model = tmp_path / "m.safetensors"
    assert main(["train", str(data), *QUICK, "--out", str(model)]) == 0
    assert hg.load(model).metadata["classes"] == ["high", "low"]
    np.savez(tmp_path / "new.npz", X=X[:5])
    capsys.readouterr()
    assert main(["predict", str(model), str(tmp_path / "new.npz")]) == 0
    predictions = read_csv(capsys.readouterr().out)
    assert len(predictions) == 5 and {r["y"] for r in predictions} <= {"low", "high"}


# Round trip: train, evaluate, predict ------------------------------------------------------------


def test_evaluate_prints_the_loss_and_accuracy_of_the_predictions(animals, animals_model, capsys):
    assert main(["evaluate", str(animals_model), str(animals)]) == 0
    out = capsys.readouterr().out
    figures = dict(zip(out.splitlines()[1].split()[::2], map(float, out.split()[-3::2])))
    assert main(["predict", str(animals_model), str(animals)]) == 0
    predictions = read_csv(capsys.readouterr().out)
    truth = [row["species"] for row in read_csv(animals)]
    accuracy = np.mean([p["species"] == t for p, t in zip(predictions, truth)])
    assert figures["accuracy"] == pytest.approx(accuracy, abs=5e-5)
    assert accuracy > 0.85
    assert 0 < figures["loss"] < 0.5


def test_predict_writes_the_original_string_labels(animals, animals_model, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    argv = ["predict", str(animals_model), str(animals), "--probabilities", "--out", str(out)]
    assert main(argv) == 0
    assert capsys.readouterr().out == f"wrote 240 predictions to {out}\n"
    rows = read_csv(out)
    assert list(rows[0]) == ["species", "p(bird)", "p(cat)", "p(dog)"]
    assert len(rows) == 240
    for row in rows:
        probs = {c: float(row[f"p({c})"]) for c in ("bird", "cat", "dog")}
        assert sum(probs.values()) == pytest.approx(1, abs=1e-5)
        assert row["species"] == max(probs, key=probs.get)


def test_predict_reads_features_by_name_in_any_order(animals, animals_model, tmp_path, capsys):
    rows = read_csv(animals)[:10]
    shuffled = write_csv(
        tmp_path / "shuffled.csv",
        ["age", "note", "weight", "height"],
        [[r["age"], "x", r["weight"], r["height"]] for r in rows],
    )
    assert main(["predict", str(animals_model), str(animals)]) == 0
    expected = read_csv(capsys.readouterr().out)[:10]
    assert main(["predict", str(animals_model), str(shuffled)]) == 0
    assert read_csv(capsys.readouterr().out) == expected


def test_evaluate_maps_labels_to_the_model_classes(animals, animals_model, tmp_path, capsys):
    """A file holding only some of the classes is scored against the model's own classes."""
    dogs = [r for r in read_csv(animals) if r["species"] == "dog"]
    path = write_csv(tmp_path / "dogs.csv", list(dogs[0]), [list(r.values()) for r in dogs])
    assert main(["predict", str(animals_model), str(path)]) == 0
    predicted = [r["species"] for r in read_csv(capsys.readouterr().out)]
    assert main(["evaluate", str(animals_model), str(path)]) == 0
    accuracy = float(capsys.readouterr().out.split("accuracy ")[1])
    assert accuracy == pytest.approx(predicted.count("dog") / len(dogs), abs=5e-5)


def test_evaluate_refuses_a_label_the_model_never_saw(animals_model, tmp_path, capsys):
    path = write_csv(
        tmp_path / "fish.csv", ["height", "weight", "age", "species"], [[0, 50, 1e3, "fish"]]
    )
    err = one_line_error(capsys, ["evaluate", str(animals_model), str(path)])
    assert "label 'fish' (row 1) is not one of the model's classes: 'bird', 'cat', 'dog'" in err


def test_evaluate_names_missing_columns(animals_model, tmp_path, capsys):
    path = write_csv(tmp_path / "short.csv", ["height", "species"], [[0, "cat"]])
    err = one_line_error(capsys, ["evaluate", str(animals_model), str(path)])
    assert "lacks 2 of the model's feature columns: 'weight', 'age'" in err
    path = write_csv(tmp_path / "notarget.csv", ["height", "weight", "age"], [[0, 50, 1e3]])
    err = one_line_error(capsys, ["evaluate", str(animals_model), str(path)])
    assert "--target: DATA" in err and "has no column 'species'" in err


def test_a_corrupted_model_file_is_one_line_exit_2(animals_model, animals, tmp_path, capsys):
    data = bytearray(animals_model.read_bytes())
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(bytes(data[: len(data) // 2]))
    for command in (["evaluate", str(broken), str(animals)], ["summary", str(broken)]):
        err = one_line_error(capsys, command)
        assert "truncated" in err
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    err = one_line_error(capsys, ["predict", str(garbage), str(animals)])
    assert "the header is not valid JSON" in err


def test_a_model_saved_without_the_command_line(tmp_path, capsys):
    path = tmp_path / "plain.safetensors"
    hg.Sequential([hg.Dense(3, 2, rng=0)]).save(path, metadata={"note": "mine"})
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Dense(3→2)" in out and '"note": "mine"' in out
    err = one_line_error(capsys, ["evaluate", str(path), "--dataset", "digits"])
    assert "was not written by 'handgrad train'" in err


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


# Built-in data sets --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("digits") / "digits.safetensors"
    argv = ["train", "--dataset", "digits", "--epochs", "8", "--layers", "32", "--verbose", "0"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def test_evaluate_on_a_data_sets_test_part(digits_model, tmp_path, capsys):
    confusion = tmp_path / "c.png"
    argv = ["evaluate", str(digits_model), "--dataset", "digits", "--confusion", str(confusion)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "digits, test part (359 rows)" in out
    saved = hg.load(digits_model).metadata["results"]["test"]
    assert f"loss {saved['loss']:.4f}  accuracy {saved['accuracy']:.4f}" in out
    assert confusion.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_data_set_with_other_features_is_refused(digits_model, capsys):
    err = one_line_error(capsys, ["evaluate", str(digits_model), "--dataset", "mnist1d"])
    assert "--dataset mnist1d has 40 features, the model takes 64" in err


def test_summary_shows_layers_and_training(digits_model, capsys):
    assert main(["summary", str(digits_model)]) == 0
    out = capsys.readouterr().out
    assert "Dense(64→32)" in out and "total parameters: 2,410" in out
    assert "task: classification into 10 classes" in out
    assert "target: digit; 64 features (pixel_0_0" in out
    assert "layers 32 relu" in out and "8 of 8 epochs" in out


# Trace --------------------------------------------------------------------------------------


def test_trace_of_the_notebook_is_complete(capsys):
    assert main(["trace", "--example", "seed"]) == 0
    out = capsys.readouterr().out
    for figure in ("3.99  3.29  2.59", "5.4552  6.4972", "7.188368", "-6.188368", "19.14794925"):
        assert figure in out
    for gradient in ("dL/dW3", "dL/db3", "dL/dW2", "dL/dW1", "dL/db1"):
        assert gradient in out
    assert "W3 ← W3 − 0.01 · dL/dW3" in out and "[-0.007587851]" in out


def test_trace_without_the_update(capsys):
    assert main(["trace", "--example", "seed", "--no-update"]) == 0
    out = capsys.readouterr().out
    assert "dL/dW1" in out and "← W" not in out


@pytest.mark.parametrize(("fmt", "start"), [("md", "**"), ("html", "<!DOCTYPE html>")])
def test_trace_formats_to_a_file(fmt, start, tmp_path, capsys):
    out = tmp_path / f"step.{fmt}"
    assert main(["trace", "--example", "seed", "--format", fmt, "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(start) and "19.14794925" in text
    assert capsys.readouterr().out == f"wrote the trace to {out}\n"


def test_trace_of_a_saved_model_standardises_the_input(animals_model, capsys):
    meta = hg.load(animals_model).metadata
    x = np.array([0.5, 55.0, 1010.0])
    expected = (x - np.array(meta["standardize"]["mean"])) / meta["standardize"]["scale"]
    argv = ["trace", str(animals_model), "--input", "0.5, 55, 1010", "--target", "cat"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    a0 = out.split("A0 (1, 3) = [[")[1].split("]]")[0].split()
    np.testing.assert_allclose([float(v) for v in a0], expected, rtol=1e-5)
    assert "Y [class labels] (1,) = [1]" in out  # 'cat' is the model's class 1


def test_trace_takes_a_row_and_its_target_from_a_file(animals, animals_model, capsys):
    assert main(["trace", str(animals_model), "--data", str(animals), "--row", "3"]) == 0
    out = capsys.readouterr().out
    third = read_csv(animals)[2]
    label = ["bird", "cat", "dog"].index(third["species"])
    assert f"Y [class labels] (1,) = [{label}]" in out
    assert "on row 3 of animals.csv" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input", "1,2"], "--input: the model takes 3 features, got 2 numbers"),
        (["--input", "1,a,3", "--target", "cat"], "--input: expected comma-separated numbers"),
        (["--input", "1,2,3", "--target", "fish"], "label 'fish'"),
        (["--input", "1,2,3"], "--target: give the row's class label"),
        ([], "give the row with one of --input NUMBERS"),
    ],
)
def test_trace_input_errors(animals_model, extra, message, capsys):
    err = one_line_error(capsys, ["trace", str(animals_model), *extra])
    assert message in err


def test_trace_row_beyond_the_file(animals, animals_model, capsys):
    err = one_line_error(
        capsys, ["trace", str(animals_model), "--data", str(animals), "--row", "999"]
    )
    assert "--row 999: animals.csv (240 rows) has 240 rows" in err


# Export ------------------------------------------------------------------------------------------


def test_export_takes_raw_features(animals, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    model = tmp_path / "m64.safetensors"
    argv = ["train", str(animals), "--target", "species", "--ignore", "id", "--dtype", "float64"]
    assert main([*argv, *QUICK, "--out", str(model)]) == 0
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(model), "--onnx", str(onnx_path), "--opset", "17"]) == 0
    assert "the standardisation is folded into the first layer" in capsys.readouterr().out
    rows = read_csv(animals)
    X = np.array([[float(r[c]) for c in ("height", "weight", "age")] for r in rows])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["output"], {"input": X})
    loaded = hg.load(model)
    standardizer = Standardizer.from_json(loaded.metadata["standardize"], 3, "test")
    expected = loaded.predict(standardizer.transform(X, np.float64))
    np.testing.assert_allclose(logits, expected, rtol=1e-9, atol=1e-9)


def test_export_errors(animals_model, tmp_path, capsys):
    argv = ["export", str(animals_model), "--onnx", str(tmp_path / "m.onnx"), "--opset", "99"]
    err = one_line_error(capsys, argv)
    assert "opset must be in [9, 28], got 99" in err
    err = one_line_error(capsys, ["export", str(animals_model), "--onnx", str(animals_model)])
    assert "--onnx" in err and "would overwrite an input file" in err


# Demo ------------------------------------------------------------------------------------------


def test_demo_writes_only_its_files_in_its_folder(tmp_path, capsys):
    folder = tmp_path / "demo"
    assert main(["demo", "--out-dir", str(folder), "--epochs", "2", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "[5.6, 6.89, 8.07]" in out and "[30.37543]" in out
    assert "L = 19.14794925" in out and "dL/dW1" in out
    accuracy = float(out.split("test accuracy: ")[1].split("%")[0]) / 100
    meta = hg.load(folder / "digits.safetensors").metadata
    assert accuracy == pytest.approx(meta["results"]["test"]["accuracy"], abs=5e-5)
    assert sorted(p.name for p in folder.iterdir()) == [
        "confusion-matrix.png",
        "digits.safetensors",
        "learning-curves.png",
    ]
    assert f"Everything is in {folder}/" in out


def test_demo_refuses_a_file_as_its_folder(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    err = one_line_error(capsys, ["demo", "--out-dir", str(path), "--verbose", "0"])
    assert "--out-dir" in err and "is a file" in err
    assert path.read_text() == "mine"


# Failures that are not the user's -------------------------------------------------------------


def test_an_unexpected_error_is_one_line_exit_1(monkeypatch, capsys, tmp_path):
    def broken(args):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(cli_commands, "summary", broken)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    err = one_line_error(capsys, ["summary", "x"], code=1)
    assert "RuntimeError: something inside broke (run with --debug" in err
    with pytest.raises(RuntimeError):
        main(["--debug", "summary", "x"])
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(RuntimeError):
        main(["summary", "x"])


def test_a_missing_package_is_exit_1(monkeypatch, capsys):
    def needs(args):
        raise ImportError("drawing figures needs matplotlib: pip install 'handgrad[cli]'")

    monkeypatch.setattr(cli_commands, "train", needs)
    err = one_line_error(capsys, ["train"], code=1)
    assert "pip install 'handgrad[cli]'" in err


# Through a real process ------------------------------------------------------------------------


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "handgrad"
    assert script.exists()
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"handgrad {hg.__version__}"


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


def test_errors_from_a_process_have_no_traceback(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 4)
    result = run(["summary", str(broken)])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "is not a model file: 4 bytes is too short" in result.stderr
    result = run(["train", "--dataset", "digits", "--layers", "1,-2"])
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_metadata_is_plain_json(animals_model):
    meta = hg.load(animals_model).metadata
    assert json.loads(json.dumps(meta)) == meta


def test_quality_benchmark_runs_its_commands(tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"
    argv = [sys.executable, str(script), "--only", "digits", "--epochs", "2"]
    result = subprocess.run(
        [*argv, "--results", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    report = json.loads((tmp_path / "quality.json").read_text())
    (digits,) = report["results"]
    assert digits["command"].startswith("handgrad train --dataset digits --layers 128,64")
    assert "--epochs 2 " in digits["command"] and digits["epochs_run"] == 2
    assert report["overrides"] == {"--epochs": "2"}
    assert 0.5 < digits["test_accuracy"] < 1 and digits["goal"] == 0.97
    assert digits["met"] == (digits["test_accuracy"] >= 0.97)
    assert result.returncode == (0 if digits["met"] else 1), result.stderr
    table = (tmp_path / "quality.md").read_text()
    assert f"| digits | {digits['test_accuracy']:.2%} | 97% |" in table
    assert "A quick run, not the benchmark" in table


def test_evaluate_takes_data_or_a_data_set_not_both(digits_model, animals, capsys):
    err = one_line_error(
        capsys, ["evaluate", str(digits_model), str(animals), "--dataset", "digits"]
    )
    assert "give DATA or --dataset NAME, not both" in err


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: write_csv(d / "nan.csv", ["a", "b", "y"], [[1, "nan", "x"], [2, 3, "z"]]),
            "line 2, column 'b': expected a finite number, got 'nan'",
        ),
        (
            lambda d: write_csv(d / "inf.csv", ["a", "b", "y"], [[1, "inf", "x"], [2, 3, "z"]]),
            "line 2, column 'b': expected a finite number, got 'inf'",
        ),
        (lambda d: write_csv(d / "empty.csv", ["a", "b", "y"], []), "no data rows"),
        (
            lambda d: write_npz(
                d / "objects.npz", X=np.array([[1, "a"]], dtype=object), y=np.array([0])
            ),
            "object",
        ),
        (
            lambda d: write_npz(d / "complex.npz", X=np.ones((3, 2), complex), y=np.arange(3)),
            "complex",
        ),
        (
            lambda d: write_npz(d / "lengths.npz", X=np.ones((3, 2)), y=np.arange(4)),
            "must hold one target per row of X (3 rows), got shape (4,)",
        ),
        (
            lambda d: write_npz(d / "strings.npz", X=np.array([["a", "b"]]), y=np.array([1])),
            "must be an array of numbers, got dtype <U1",
        ),
    ],
)
def test_bad_data_files_are_one_line_exit_2(make, message, tmp_path, capsys):
    path = make(tmp_path)
    argv = ["train", str(path), "--epochs", "1", "--verbose", "0"]
    if path.suffix == ".csv":
        argv += ["--target", "y"]
    err = one_line_error(capsys, argv)
    assert message in err, err
