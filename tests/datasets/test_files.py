import numpy as np
import pytest
from helpers.datasets import write_csv

from handgrad import datasets

# ---------------------------------------------------------------------------------------------
# CSV


def test_csv_with_string_labels(tmp_path):
    path = write_csv(tmp_path, "a, b ,kind\n1,2.5,dog\n\n3,-4e1,cat\n5,6,dog\n")
    ds = datasets.load_csv(path, "kind")
    assert ds.name == "data" and ds.task == "classification"
    assert ds.feature_names == ["a", "b"] and ds.target_name == "kind"
    assert ds.X_train.tolist() == [[1, 2.5], [3, -40], [5, 6]] and ds.X_train.dtype == np.float64
    assert ds.classes.tolist() == ["cat", "dog"] and ds.y_train.tolist() == [1, 0, 1]
    assert ds.X_test is None and ds.y_test is None


@pytest.mark.parametrize(
    "cells, task, y, classes",
    [
        (["3", "-1", "3", "10"], "classification", [1, 0, 1, 2], [-1, 3, 10]),
        (["true", "False", "TRUE", "false"], "classification", [1, 0, 1, 0], [False, True]),
        (["0.5", "2", "-1.25", "2"], "regression", [0.5, 2, -1.25, 2], None),
        (["1", "a", "b", "1"], "classification", [0, 1, 2, 0], ["1", "a", "b"]),
    ],
)
def test_csv_target_kinds(tmp_path, cells, task, y, classes):
    rows = "".join(f"{i},{c}\n" for i, c in enumerate(cells))
    ds = datasets.load_csv(write_csv(tmp_path, "x,y\n" + rows), "y")
    assert ds.task == task and ds.y_train.tolist() == y
    assert (ds.classes is None and classes is None) or ds.classes.tolist() == classes


def test_csv_task_override_delimiter_and_byte_order_mark(tmp_path):
    path = write_csv(tmp_path, "y;x\n1.5;0\n2;1\n1.5;2\n", encoding="utf-8-sig")
    ds = datasets.load_csv(path, "y", task="classification", delimiter=";")
    assert ds.classes.tolist() == [1.5, 2.0] and ds.y_train.tolist() == [0, 1, 0]
    assert ds.X_train.tolist() == [[0], [1], [2]]
    path = write_csv(tmp_path, "x,y\n0,3\n1,4\n")
    ds = datasets.load_csv(path, "y", task="regression")
    assert ds.task == "regression" and ds.y_train.tolist() == [3.0, 4.0] and ds.classes is None


@pytest.mark.parametrize(
    "text, kwargs, error, message",
    [
        (
            "a,b,c\n1,2,3\n",
            dict(target="d"),
            ValueError,
            "target 'd' is not a column of {path}; its columns are: a, b, c",
        ),
        (
            "a,b\n1,0\n2,1\n\nx,1\n",
            {},
            ValueError,
            "{path}, line 5, column 'a': expected a finite number, got 'x' (a plain decimal such "
            "as -12, 3.5 or 1e-3; leave the cell empty or NA for a missing value)",
        ),
        (
            "a,b\n1,0\n2,1\n1_000,1\n",
            {},
            ValueError,
            "{path}, line 4, column 'a': expected a finite number, got '1_000' (a plain decimal",
        ),
        (
            "a,b\n1,0\n2,1\n١٢,1\n",
            {},
            ValueError,
            "{path}, line 4, column 'a': expected a finite number, got '١٢' (a plain decimal",
        ),
        (
            "a,b\n1,0\n2,1\ninf,1\n",
            {},
            ValueError,
            "{path}, line 4, column 'a': expected a finite number, got 'inf' (a plain decimal",
        ),
        (
            "a,b\n1,0\n2,1\n1e999,1\n",
            {},
            ValueError,
            "{path}, line 4, column 'a': expected a finite number, got '1e999'",
        ),
        (
            "a,b\nnan,0\nNA,1\n",
            {},
            ValueError,
            "column 'a' of {path} has no value in the training rows: leave it out, or give it "
            "values",
        ),
        (
            "a,b\n1,0\n2,1,5\n",
            {},
            ValueError,
            "{path}, line 3: expected 2 fields as in the header, got 3",
        ),
        ("", {}, ValueError, "{path} is empty: expected a header row with the column names"),
        ("a,b\n", {}, ValueError, "{path} has a header but no data rows"),
        ("a,b,a\n1,2,3\n", {}, ValueError, "{path}: the column name 'a' appears more than once"),
        ("b\n1\n", {}, ValueError, "{path} has only the target column 'b'; it needs features too"),
        (
            "a,b\n1, \n2,NA\n",
            {},
            ValueError,
            "{path}, column 'b': the target is missing in every row",
        ),
        (
            "a,b\n1,2\n",
            dict(ignore=["c"]),
            ValueError,
            "ignore: 'c' is not a column of {path}; its columns are: a, b",
        ),
        (
            "1.5,2,3\n4,5,6\n",
            {},
            ValueError,
            "{path}: its first row, '1.5,2,3', holds only numbers: it looks like data, not column "
            "names; if the file has no header row, give header=False (the columns are then named "
            "1, 2, …)",
        ),
        (
            "a;b;c\n1;2;3\n",
            {},
            ValueError,
            "{path} has one column, 'a;b;c': its header looks ';'-separated; give delimiter=';'",
        ),
        (
            "a,b\n1,x\n",
            dict(task="regression"),
            ValueError,
            "{path}, line 2, column 'b': expected a finite number, got 'x'",
        ),
        (
            "a,b\n1,2\n",
            dict(task="auto-detect"),
            ValueError,
            "task must be 'auto', 'classification' or 'regression', got 'auto-detect'",
        ),
        (
            "a,b\n1,2\n",
            dict(delimiter=";;"),
            TypeError,
            "delimiter must be a one-character str, got ';;' (str)",
        ),
        (
            "a,b\n1,2\n",
            dict(target=1),
            TypeError,
            "target must be the name of a column (a str), got 1 (int)",
        ),
    ],
)
def test_csv_bad_input(tmp_path, text, kwargs, error, message):
    path = write_csv(tmp_path, text)
    with pytest.raises(error) as info:
        datasets.load_csv(path, **(dict(target="b") | kwargs))
    assert str(info.value).startswith(message.format(path=path))


# ---------------------------------------------------------------------------------------------
# NPZ


def test_npz_classification_and_regression(tmp_path):
    path = tmp_path / "set.npz"
    X = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.savez(
        path,
        X=X,
        y=np.array(["b", "a", "b", "c"]),
        values=np.array([[1.0, 2], [3, 4], [5, 6], [7, 8]]),
    )
    ds = datasets.load_npz(path)
    assert ds.name == "set" and ds.task == "classification"
    assert ds.X_train.dtype == np.float32 and np.array_equal(ds.X_train, X)
    assert ds.classes.tolist() == ["a", "b", "c"] and ds.y_train.tolist() == [1, 0, 1, 2]
    assert ds.feature_names is None and ds.target_name == "y" and ds.X_test is None
    ds = datasets.load_npz(path, y="values")
    assert ds.task == "regression" and ds.y_train.shape == (4, 2) and ds.classes is None


def test_npz_integer_and_bool_arrays(tmp_path):
    path = tmp_path / "ints.npz"
    np.savez(path, features=np.array([[1, 0], [0, 1], [1, 1]]), label=np.array([7, 3, 7]))
    ds = datasets.load_npz(path, X="features", y="label")
    assert ds.X_train.dtype == np.float64 and ds.y_train.tolist() == [1, 0, 1]
    assert ds.classes.tolist() == [3, 7]
    ds = datasets.load_npz(path, X="features", y="label", task="regression")
    assert ds.y_train.dtype == np.float64 and ds.y_train.tolist() == [7, 3, 7]


def npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, kwargs, error, message",
    [
        (
            dict(X=np.zeros((2, 2))),
            {},
            ValueError,
            "y='y': {path} has no array of that name; it holds: X",
        ),
        (
            dict(X=np.zeros((2, 2)), y=np.array([1, "a"], dtype=object)),
            {},
            ValueError,
            "array 'y' of {path} cannot be read without unpickling it",
        ),
        (
            dict(X=np.zeros(2), y=np.zeros(2)),
            {},
            ValueError,
            "array 'X' of {path} must be 2-D (samples, features), got shape (2,)",
        ),
        (
            dict(X=np.array([["a"]]), y=np.zeros(1)),
            {},
            TypeError,
            "array 'X' of {path} must be an array of numbers, got dtype <U1",
        ),
        (
            dict(X=np.array([[0, np.nan]]), y=np.zeros(1)),
            {},
            ValueError,
            "array 'X' of {path} must be finite, got a NaN",
        ),
        (
            dict(X=np.zeros((3, 2)), y=np.zeros(2)),
            {},
            ValueError,
            "array 'y' of {path} must hold one target per row of X (3 rows), got shape (2,)",
        ),
        (
            dict(X=np.zeros((2, 2)), y=np.ones(2) * 1j),
            {},
            TypeError,
            "array 'y' of {path} must hold numbers, bools or strings, got dtype complex128",
        ),
        (
            dict(X=np.zeros((2, 2)), y=np.array(["a", "b"])),
            dict(task="regression"),
            TypeError,
            "task='regression' needs numbers in array 'y' of {path}, got dtype <U1",
        ),
        (
            dict(X=np.zeros((2, 2)), y=np.eye(2, dtype=int)),
            {},
            ValueError,
            "array 'y' of {path} must be 1-D labels for classification, got shape (2, 2)",
        ),
        (
            dict(X=np.zeros((2, 2)), y=np.zeros(2)),
            dict(task="guess"),
            ValueError,
            "task must be 'auto', 'classification' or 'regression', got 'guess'",
        ),
        (
            dict(X=np.zeros((2, 2)), y=np.zeros(2)),
            dict(X=0),
            TypeError,
            "X must be the name of an array in the archive, got 0 (int)",
        ),
    ],
)
def test_npz_bad_input(tmp_path, arrays, kwargs, error, message):
    path = npz(tmp_path, **arrays)
    with pytest.raises(error) as info:
        datasets.load_npz(path, **kwargs)
    assert str(info.value).startswith(message.format(path=path))


def test_npz_that_is_not_an_archive(tmp_path):
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ValueError) as info:
        datasets.load_npz(single)
    assert str(info.value) == (
        f"{single} holds a single array (.npy); expected an .npz archive of named arrays"
    )
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip file")
    with pytest.raises(ValueError) as info:
        datasets.load_npz(junk)
    assert str(info.value).startswith(
        f"{junk} is not an .npz archive NumPy can read without pickle"
    )
