"""DATA files and data sets as the commands read them: columns, labels, bad files."""

from pathlib import Path

import numpy as np
import pytest
from helpers.cli import QUICK, one_line_error, read_csv, write_csv

import handgrad as hg
from handgrad.cli import main

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")


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


def test_a_bad_cell_is_named(tmp_path, capsys):
    path = write_csv(tmp_path / "bad.csv", ["a", "y"], [[1, "x"], [2, "x"], ["oops", "y"]])
    err = one_line_error(capsys, ["train", str(path), "--target", "y", *QUICK])
    assert "line 4, column 'a': expected a finite number, got 'oops' (a plain decimal" in err


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
            lambda d: write_csv(
                d / "inf.csv", ["a", "b", "y"], [[1, "inf", "x"], [2, 3, "z"], [3, 4, "x"]]
            ),
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


def test_predict_ignores_the_target_column_and_evaluate_checks_it(animals_model, tmp_path, capsys):
    path = write_csv(
        tmp_path / "fish.csv", ["height", "weight", "age", "species"], [[0, 50, 1e3, "fish"]]
    )
    assert main(["predict", str(animals_model), str(path)]) == 0
    (row,) = read_csv(capsys.readouterr().out)
    assert row["species"] in ("bird", "cat", "dog")
    err = one_line_error(capsys, ["evaluate", str(animals_model), str(path)])
    assert "label 'fish' (row 1) is not one of the model's classes" in err
