"""The handgrad command: help and usage, exit statuses, and one-line errors."""

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import one_line_error, run

import handgrad as hg
from handgrad.cli import app as cli
from handgrad.cli import commands as cli_commands
from handgrad.cli import main

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")

COMMANDS = ("demo", "train", "evaluate", "predict", "summary", "trace", "export")


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
        (["train", "--dataset", "digits", "--threads", "0"], "--threads: expected an integer >= 1"),
        (["predict", "m.safetensors", "--threads", "two"], "--threads: expected an integer"),
        (["evaluate", "m.safetensors", "--threads", "-1"], "--threads: expected an integer"),
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


def test_errors_from_a_process_have_no_traceback(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 4)
    result = run(["summary", str(broken)])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "is not a model file: 4 bytes is too short" in result.stderr
    result = run(["train", "--dataset", "digits", "--layers", "1,-2"])
    assert result.returncode == 2 and result.stderr.count("\n") == 1


# Unclear answers made clear ------------------------------------------------------------------


def test_debug_is_accepted_after_the_command_too(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(cli_commands, "summary", broken)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    with pytest.raises(RuntimeError):
        main(["summary", "x", "--debug"])
    with pytest.raises(RuntimeError):
        main(["--debug", "summary", "x"])
    err = one_line_error(capsys, ["summary", "x"], code=1)
    assert "(run with --debug or HANDGRAD_DEBUG=1 for the traceback)" in err


def test_help_is_a_command(capsys):
    assert main(["help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: handgrad") and all(command in out for command in COMMANDS)
    assert main(["help", "predict"]) == 0
    assert capsys.readouterr().out.startswith("usage: handgrad predict")
    err = one_line_error(capsys, ["help", "fly"])
    assert "argument COMMAND: invalid choice: 'fly'" in err


def test_python_dash_m_handgrad_runs_the_command():
    cmd = [sys.executable, "-m", "handgrad", "--version"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"handgrad {hg.__version__}"
    result = subprocess.run(
        [sys.executable, "-m", "handgrad", "summary"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "the following arguments are required: MODEL" in result.stderr


def test_an_onnx_file_given_as_model_is_named(animals_model, tmp_path, capsys):
    pytest.importorskip("onnx")
    onnx_file = tmp_path / "m.onnx"
    assert main(["export", str(animals_model), "--onnx", str(onnx_file)]) == 0
    capsys.readouterr()
    for argv in (["summary", str(onnx_file)], ["predict", str(onnx_file), "--dataset", "digits"]):
        err = one_line_error(capsys, argv)
        assert (
            f"{str(onnx_file)!r} is not a handgrad model file: it looks like an ONNX model" in err
        )
        assert "header claims" not in err


def test_a_network_too_large_for_the_machine_says_how_much_it_needs(capsys):
    err = one_line_error(
        capsys, ["train", "--dataset", "digits", "--layers", "100000000", "--verbose", "0"]
    )
    assert "--layers 100000000: Dense(64→100000000) needs 103.2 GB for its weights" in err
    assert "this machine has" in err
