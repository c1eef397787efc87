"""The files the commands write: refused before any work when they cannot be written or are one of
the inputs (links included), written whole or not at all, and a replaced file is said so."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import QUICK, one_line_error, read_csv, write_csv

import handgrad as hg
from handgrad.cli import commands, main
from handgrad.cli.outputs import check_output, check_outputs_distinct, write_text

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")

LINKS = {"symlink": os.symlink, "hard link": os.link}


@pytest.fixture
def no_training(monkeypatch):
    """Training that fails the test if it starts: a refusal must come before the work."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the outputs were checked")

    monkeypatch.setattr(commands, "run_training", refuse)


# The checks themselves -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LINKS)
def test_a_link_to_an_input_is_the_input(kind, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    link = tmp_path / "out.csv"
    LINKS[kind](data, link)
    with pytest.raises(ValueError) as info:
        check_output(str(link), "--out", {"DATA": str(data)})
    assert str(info.value) == (
        f"--out {str(link)!r} is the same file as DATA {str(data)!r} (through a link): writing "
        "it would overwrite an input; choose another name"
    )


def test_an_existing_output_is_reported_and_a_new_one_not(tmp_path):
    there = tmp_path / "there.csv"
    there.write_text("x")
    assert check_output(str(there), "--out") is True
    assert check_output(str(tmp_path / "new.csv"), "--out") is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["there.csv"]  # the probe is gone


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("", ValueError, "--out: expected a file name, got ''"),
        ("   ", ValueError, "--out: expected a file name, got '   '"),
        ("/proc/x.safetensors", PermissionError, "--out '/proc/x.safetensors': cannot write in"),
        ("/sys/x.safetensors", PermissionError, "--out '/sys/x.safetensors': cannot write in"),
        ("/dev/null", ValueError, "--out '/dev/null' is not a regular file"),
        (
            "/no/such/folder/m.safetensors",
            FileNotFoundError,
            "--out '/no/such/folder/m.safetensors': the folder '/no/such/folder' does not exist",
        ),
    ],
)
def test_unwritable_outputs(path, error, message):
    with pytest.raises(error) as info:
        check_output(path, "--out")
    assert str(info.value).startswith(message)


def test_a_read_only_folder(tmp_path):
    # Root writes anywhere, so as root the check runs in a child process that becomes the user
    # nobody once Python and handgrad are loaded.
    folder = Path(tempfile.mkdtemp(dir="/tmp")) if os.geteuid() == 0 else tmp_path
    try:
        folder.chmod(0o755)
        locked = folder / "locked"
        locked.mkdir(mode=0o555)
        code = (
            "import os, sys; from handgrad.cli.outputs import check_output\n"
            "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
            "try:\n    check_output(sys.argv[1], '--out')\n"
            "except PermissionError as exc:\n    print(exc)\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", code, str(locked / "m.safetensors")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert re.search(r"cannot write in the folder .*Permission denied", run.stdout), run
    finally:
        if folder != tmp_path:
            shutil.rmtree(folder)


def test_two_outputs_through_a_link_are_one_file(tmp_path):
    plot = tmp_path / "curves.png"
    plot.write_bytes(b"png")
    link = tmp_path / "other.png"
    os.symlink(plot, link)
    with pytest.raises(ValueError, match="--plot and --confusion name the same file"):
        check_outputs_distinct({"--plot": str(plot), "--confusion": str(link)})
    dangling = tmp_path / "later.png"
    os.symlink(tmp_path / "not-yet.png", dangling)
    with pytest.raises(ValueError, match="--plot and --confusion name the same file"):
        check_outputs_distinct(
            {"--plot": str(tmp_path / "not-yet.png"), "--confusion": str(dangling)}
        )


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("old")

    with pytest.raises(TypeError):
        write_text(str(path), 3)  # fails inside the write, after the temporary file exists
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]
    write_text(str(path), "new")
    assert path.read_text() == "new"


# Through the commands ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LINKS)
def test_predict_never_overwrites_its_data_through_a_link(
    kind, animals, animals_model, tmp_path, capsys
):
    before = animals.read_bytes()
    link = tmp_path / "predictions.csv"
    LINKS[kind](animals, link)
    err = one_line_error(capsys, ["predict", str(animals_model), str(animals), "--out", str(link)])
    assert f"--out {str(link)!r} is the same file as DATA" in err
    assert animals.read_bytes() == before


@pytest.mark.parametrize("kind", LINKS)
def test_export_never_overwrites_its_model_through_a_link(kind, animals_model, tmp_path, capsys):
    before = animals_model.read_bytes()
    link = tmp_path / "model.onnx"
    LINKS[kind](animals_model, link)
    err = one_line_error(capsys, ["export", str(animals_model), "--onnx", str(link)])
    assert f"--onnx {str(link)!r} is the same file as MODEL" in err
    assert animals_model.read_bytes() == before


@pytest.mark.parametrize("kind", LINKS)
def test_evaluate_and_trace_never_overwrite_their_inputs(
    kind, animals, animals_model, tmp_path, capsys
):
    link = tmp_path / "c.png"
    LINKS[kind](animals_model, link)
    err = one_line_error(
        capsys, ["evaluate", str(animals_model), str(animals), "--confusion", str(link)]
    )
    assert "--confusion" in err and "is the same file as MODEL" in err
    link = tmp_path / "step.txt"
    LINKS[kind](animals, link)
    argv = ["trace", str(animals_model), "--data", str(animals), "--out", str(link)]
    err = one_line_error(capsys, argv)
    assert "--out" in err and "is the same file as --data" in err


@pytest.mark.parametrize("option", ["--out", "--plot", "--confusion", "--checkpoint"])
@pytest.mark.parametrize("kind", LINKS)
def test_train_checks_every_output_against_its_data(
    option, kind, animals, tmp_path, capsys, no_training
):
    before = animals.read_bytes()
    link = tmp_path / "output"
    LINKS[kind](animals, link)
    argv = ["train", str(animals), "--target", "species", *QUICK, option, str(link)]
    err = one_line_error(capsys, argv)
    assert f"{option} {str(link)!r} is the same file as DATA" in err
    assert animals.read_bytes() == before


def test_train_never_writes_its_model_over_the_checkpoint_it_resumes(
    animals, tmp_path, capsys, no_training
):
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.write_bytes(b"a checkpoint")
    argv = ["train", str(animals), "--target", "species", *QUICK, "--resume", str(checkpoint)]
    err = one_line_error(capsys, [*argv, "--out", str(checkpoint)])
    assert "is the same file as --resume" in err
    assert checkpoint.read_bytes() == b"a checkpoint"


@pytest.mark.parametrize(
    ("option", "path", "message"),
    [
        ("--out", "", "--out: expected a file name, got ''"),
        ("--out", "/proc/x.safetensors", "cannot write in the folder '/proc'"),
        ("--plot", "/proc/curves.png", "--plot '/proc/curves.png': cannot write in"),
        ("--confusion", "/sys/c.png", "--confusion '/sys/c.png': cannot write in"),
        ("--checkpoint", "/proc/run.ckpt", "--checkpoint '/proc/run.ckpt': cannot write in"),
        ("--out", "/dev/null", "--out '/dev/null' is not a regular file"),
    ],
)
def test_an_unwritable_output_is_refused_before_training(
    option, path, message, capsys, no_training
):
    err = one_line_error(capsys, ["train", "--dataset", "digits", *QUICK, option, path])
    assert message in err


def test_replacing_a_model_says_so(animals, animals_model, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    out.write_bytes(animals_model.read_bytes())  # a classifier, about to become a regressor
    rng = np.random.default_rng(2)
    rows = [[*x, x[0] - 2 * x[1]] for x in rng.standard_normal((60, 2)).round(4)]
    data = write_csv(tmp_path / "values.csv", ["a", "b", "value"], rows)
    argv = ["train", str(data), "--target", "value", *QUICK]
    assert main([*argv, "--out", str(out), "--plot", str(tmp_path / "new.png")]) == 0
    printed = capsys.readouterr().out
    assert f"saved the model to {out} (it replaced the file that was there)" in printed
    assert f"wrote the learning curves to {tmp_path / 'new.png'}\n" in printed
    assert hg.load(out).metadata["task"] == "regression"


def test_predict_to_standard_output_with_a_dash(
    animals, animals_model, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["predict", str(animals_model), str(animals), "--out", "-"]) == 0
    rows = read_csv(capsys.readouterr().out)
    assert len(rows) == 240 and set(rows[0]) == {"species"}
    assert not (tmp_path / "-").exists()


def test_predict_over_its_old_predictions_says_so(animals, animals_model, tmp_path, capsys):
    out = tmp_path / "p.csv"
    out.write_text("old predictions\n")
    assert main(["predict", str(animals_model), str(animals), "--out", str(out)]) == 0
    assert (
        capsys.readouterr().out
        == f"wrote 240 predictions to {out} (it replaced the file that was there)\n"
    )
    assert len(read_csv(out)) == 240
    assert not np.any([p.name.endswith(".tmp.csv") for p in tmp_path.iterdir()])
