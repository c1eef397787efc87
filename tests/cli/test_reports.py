"""What training prints and writes: the score table, the model file, the figures."""

import os

import pytest
from helpers.cli import QUICK

from handgrad.cli import main

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")


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


def test_a_saved_model_file_follows_the_umask(animals, tmp_path):
    path = tmp_path / "m.safetensors"
    old = os.umask(0o022)
    try:
        assert main(["train", str(animals), "--target", "species", *QUICK, "--out", str(path)]) == 0
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_train_writes_curves_and_confusion_matrix(animals, tmp_path):
    curves, confusion = tmp_path / "curves.png", tmp_path / "confusion.png"
    argv = ["train", str(animals), "--target", "species", *QUICK]
    assert main([*argv, "--plot", str(curves), "--confusion", str(confusion)]) == 0
    for path in (curves, confusion):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
