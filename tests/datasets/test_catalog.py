import numpy as np
import pytest
from helpers.datasets import write_csv

from handgrad import datasets


def test_load_by_name(fashion):
    folder, make = fashion
    make()
    ds = datasets.load("digits", test_size=0.25, seed=3)
    assert ds.name == "digits" and len(ds.y_test) == 449  # round(449.25)
    ds = datasets.load("fashion-mnist", path=folder, dtype=np.uint8)
    assert ds.name == "fashion-mnist" and ds.X_train.shape == (5, 784)


def test_load_by_extension(tmp_path):
    csv_path = write_csv(tmp_path, "x,label\n1,a\n2,b\n", name="Table.CSV")
    ds = datasets.load(csv_path, target="label")
    assert ds.name == "Table" and ds.y_train.tolist() == [0, 1]
    np.savez(tmp_path / "arrays.npz", X=np.ones((2, 1)), y=np.array([0.5, 1.5]))
    ds = datasets.load(str(tmp_path / "arrays.npz"))
    assert ds.task == "regression" and ds.y_train.tolist() == [0.5, 1.5]


def test_load_errors(tmp_path):
    with pytest.raises(ValueError) as info:
        datasets.load("mnist")
    assert str(info.value) == (
        "name_or_path must be one of 'digits', 'mnist1d', 'fashion-mnist', "
        "or a path ending in .csv or .npz, got 'mnist'"
    )
    with pytest.raises(TypeError) as info:
        datasets.load(tmp_path / "data.csv")
    assert str(info.value) == (
        f"loading the CSV file {tmp_path / 'data.csv'} needs target=, the target column's name"
    )
    with pytest.raises(TypeError) as info:
        datasets.load(None)
    assert str(info.value) == "name_or_path must be a str or os.PathLike, got a NoneType"
