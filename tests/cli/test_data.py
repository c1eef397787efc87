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


# Real tabular files: categories, missing cells, links to the rows -------------------------------


@pytest.fixture(scope="module")
def flats(tmp_path_factory) -> Path:
    """Prices of flats from a text district, a size with missing cells, and an id and a name."""
    rng = np.random.default_rng(7)
    districts = np.array(["north", "south", "east"])
    rows = []
    for i in range(300):
        district = districts[rng.integers(3)]
        size = rng.uniform(30, 120)
        price = 2 * size + {"north": 100, "south": 0, "east": 50}[district] + rng.normal(0, 3)
        size_cell = "NA" if i % 10 == 3 else ("" if i % 10 == 7 else f"{size:.1f}")
        price_cell = "" if i in (5, 50) else f"{price:.2f}"
        rows.append([f"id{i}", f"Flat {i}, {district}", district, size_cell, price_cell])
    folder = tmp_path_factory.mktemp("flats")
    return write_csv(folder / "flats.csv", ["id", "name", "district", "size", "price"], rows)


@pytest.fixture(scope="module")
def flats_model(flats, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("flats-model") / "flats.safetensors"
    argv = ["train", str(flats), "--target", "price", "--ignore", "id,name", "--out", str(out)]
    assert main([*argv, "--epochs", "60", "--layers", "32", "--lr", "0.01", "--verbose", "0"]) == 0
    return out


def test_a_table_of_text_and_gaps_trains_and_says_what_it_did(flats, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    argv = ["train", str(flats), "--target", "price", "--ignore", "id,name", *QUICK]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "data: flats, 4 features, regression; rows: 268 training, 30 validation" in printed
    assert "  left out 2 rows whose target 'price' is missing" in printed
    assert "  district: text, one-hot into 3 (east, north, south)" in printed
    meta = hg.load(out).metadata
    assert meta["cli_format"] == 2
    assert meta["feature_names"] == ["district=east", "district=north", "district=south", "size"]
    (district, size) = meta["columns"]
    assert district == {
        "name": "district",
        "kind": "categories",
        "categories": ["east", "north", "south"],
    }
    # The fill is the mean of the training rows' sizes (the validation rows are not used).
    gaps = [line for line in printed.splitlines() if line.startswith("  size:")]
    assert gaps and f"filled with the training mean {size['fill']:.6g}" in gaps[0]
    count = int(gaps[0].split()[1])
    assert 50 <= count <= 60  # about a fifth of the 268 training rows


def test_predict_and_evaluate_encode_new_rows_as_training_did(flats, flats_model, tmp_path, capsys):
    assert main(["evaluate", str(flats_model), str(flats)]) == 0
    captured = capsys.readouterr()
    assert "left out 2 rows whose target 'price' is missing" in captured.err
    assert float(captured.out.split("r2 ")[1]) > 0.8  # a fifth of the sizes are missing
    new = write_csv(
        tmp_path / "new.csv",
        ["size", "district", "ref"],
        [["60", "north", "a"], ["", "south", "b"], ["60", "south", "c"]],
    )
    out = tmp_path / "p.csv"
    assert main(["predict", str(flats_model), str(new), "--keep", "ref", "--out", str(out)]) == 0
    rows = read_csv(out)
    assert [list(r) for r in rows[:1]] == [["ref", "price"]]
    assert [r["ref"] for r in rows] == ["a", "b", "c"]
    north, _, south = (float(r["price"]) for r in rows)
    assert north - south == pytest.approx(100, abs=25)  # the district learned, one-hot


def test_an_unseen_category_is_named_or_zeros(flats_model, tmp_path, capsys):
    new = write_csv(tmp_path / "west.csv", ["size", "district"], [["60", "west"]])
    err = one_line_error(capsys, ["predict", str(flats_model), str(new)])
    assert (
        "column 'district': 'west' (data row 1) is a category the training rows did not have" in err
    )
    assert "with --unknown-categories ignore it is encoded as zeros" in err
    argv = ["predict", str(flats_model), str(new), "--unknown-categories", "ignore"]
    assert main(argv) == 0
    assert len(read_csv(capsys.readouterr().out)) == 1


def test_summary_lists_each_columns_treatment(flats_model, capsys):
    assert main(["summary", str(flats_model)]) == 0
    out = capsys.readouterr().out
    assert "columns, as the training rows taught:" in out
    assert "  district: text, one-hot into 3 features (east, north, south)" in out
    assert "  size: number; a missing cell becomes " in out
    assert "  id: ignored (--ignore)\n  name: ignored (--ignore)" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--keep", "nope"], "--keep: 'nope' is not a column of DATA"),
        (["--keep", "price"], "--keep: 'price' is also the name of a predictions column"),
    ],
)
def test_keep_errors(flats, flats_model, extra, message, capsys):
    err = one_line_error(capsys, ["predict", str(flats_model), str(flats), *extra])
    assert message in err


def test_keep_needs_a_csv(digits_model, capsys):
    err = one_line_error(
        capsys, ["predict", str(digits_model), "--dataset", "digits", "--keep", "id"]
    )
    assert "--keep copies columns of a CSV file" in err


def test_a_file_without_a_header_row(tmp_path, capsys):
    rows = [[i, 2 * i % 7, "a" if i % 2 else "b"] for i in range(1, 31)]
    path = tmp_path / "raw.csv"
    path.write_text("".join(f"{a},{b},{c}\n" for a, b, c in rows))
    err = one_line_error(capsys, ["train", str(path), "--target", "3", *QUICK])
    assert "holds only numbers: it looks like data, not column names" not in err  # 'b' is text
    assert "target '3' is not a column" in err
    numeric = tmp_path / "numeric.csv"
    numeric.write_text("".join(f"{a},{b}\n" for a, b, _ in rows))
    err = one_line_error(capsys, ["train", str(numeric), "--target", "2", *QUICK])
    assert "its first row, '1,2', holds only numbers: it looks like data, not column names" in err
    assert "give --no-header (the columns are then named 1, 2, …)" in err
    out = tmp_path / "m.safetensors"
    argv = ["train", str(path), "--target", "3", "--no-header", *QUICK, "--out", str(out)]
    assert main(argv) == 0
    assert "rows: 27 training, 3 validation" in capsys.readouterr().out  # all 30 rows are data
    assert hg.load(out).metadata["feature_names"] == ["1", "2"]
    assert main(["predict", str(out), str(path), "--no-header"]) == 0
    assert len(read_csv(capsys.readouterr().out)) == 30  # the first row is a row, not a header


def test_a_semicolon_file_says_so_and_reads_with_delimiter(tmp_path, capsys):
    path = tmp_path / "semi.csv"
    path.write_text(
        "a;b;y\n" + "".join(f"{i};{i % 4};{'x' if i % 2 else 'z'}\n" for i in range(40))
    )
    err = one_line_error(capsys, ["train", str(path), "--target", "y", *QUICK])
    assert "has one column, 'a;b;y': its header looks ';'-separated; give --delimiter ';'" in err
    assert main(["train", str(path), "--target", "y", "--delimiter", ";", *QUICK]) == 0
    err = one_line_error(capsys, ["train", str(path), "--target", "y", "--delimiter", ";;"])
    assert "argument --delimiter: expected one character (or 'tab')" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,y\ncafé,1\nthé,2\n".encode("latin-1"), "is not UTF-8 text: the bytes b'\\xe9,1\\n"),
        (bytes(range(256)) * 4, "is a binary file (it holds NUL bytes), not CSV text"),
    ],
)
def test_files_that_are_not_utf8_text_are_named(content, message, tmp_path, capsys):
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    err = one_line_error(capsys, ["train", str(path), "--target", "y", *QUICK])
    assert f"{path} {message}" in err and "codec" not in err


def test_a_model_of_the_first_metadata_version_still_works(
    animals, animals_model, tmp_path, capsys
):
    """Files written before columns were encoded (version 1) read their features as numbers."""
    model = hg.load(animals_model)
    meta = dict(model.metadata, cli_format=1)
    del meta["columns"]
    old = tmp_path / "old.safetensors"
    model.save(old, metadata=meta)
    assert main(["predict", str(animals_model), str(animals)]) == 0
    expected = capsys.readouterr().out
    assert main(["predict", str(old), str(animals)]) == 0
    assert capsys.readouterr().out == expected


def test_export_of_a_model_with_categories_says_what_it_takes(flats_model, tmp_path, capsys):
    pytest.importorskip("onnx")
    assert main(["export", str(flats_model), "--onnx", str(tmp_path / "f.onnx")]) == 0
    out = capsys.readouterr().out
    assert "it takes the 4 encoded features, in the order 'handgrad summary' lists" in out
