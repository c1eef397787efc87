"""Data files and models trained on them, shared by the command-line tests."""

from pathlib import Path

import numpy as np
import pytest
from helpers.cli import write_csv

from handgrad.cli import main


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
def animals_model(animals, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "animals.safetensors"
    argv = ["train", str(animals), "--target", "species", "--ignore", "id", "--out", str(out)]
    assert main([*argv, "--epochs", "40", "--layers", "32", "--verbose", "0", "--lr", "0.01"]) == 0
    return out


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("digits") / "digits.safetensors"
    argv = ["train", "--dataset", "digits", "--epochs", "8", "--layers", "32", "--verbose", "0"]
    assert main([*argv, "--out", str(out)]) == 0
    return out
