"""handgrad demo: its output, and its files, in its folder only."""

import os
import subprocess

import pytest
from helpers.cli import one_line_error

import handgrad as hg
from handgrad.cli import main

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")


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


def test_the_commands_it_suggests_run_in_a_fresh_shell(tmp_path, capsys, monkeypatch):
    """A new shell has no virtual environment on its PATH: the lines name the script's path."""
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if "PYTHONPATH" in os.environ:  # the sources under test, when they are not installed
        fresh["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in os.environ["PYTHONPATH"].split(os.pathsep)
        )
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--out-dir", "demo", "--epochs", "1", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    tail = out.split("Try, from this folder in any shell:\n")[1].splitlines()
    commands = [line.strip() for line in tail if line.startswith("  ")]
    assert [c.split()[1] for c in commands] == ["summary", "evaluate", "trace"]
    for command in commands:
        result = subprocess.run(
            ["/bin/sh", "-c", command], cwd=tmp_path, env=fresh, capture_output=True, text=True
        )
        assert result.returncode == 0, (command, result.stderr)
    assert (tmp_path / "demo" / "step.html").read_text().startswith("<!DOCTYPE html>")
