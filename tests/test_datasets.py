import gzip
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handgrad import datasets
from handgrad.datasets import Dataset

# ---------------------------------------------------------------------------------------------
# Dataset


def make_dataset(**changes):
    fields = dict(
        name="toy",
        X_train=np.zeros((4, 2)),
        y_train=np.array([0, 1, 1, 0]),
        X_test=None,
        y_test=None,
        task="classification",
        classes=np.array(["a", "b"]),
        feature_names=["u", "v"],
        target_name="t",
        description="",
    )
    return Dataset(**(fields | changes))


def test_dataset_is_frozen_and_its_repr_is_short():
    ds = make_dataset()
    with pytest.raises(AttributeError):
        ds.name = "other"
    assert repr(ds) == "Dataset('toy', 2 classes, X_train (4, 2) float64, no test part)"


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(task="ranking"), "task must be 'classification' or 'regression', got 'ranking'"),
        (
            dict(X_train=np.zeros(4)),
            "X_train must be a 2-D array (samples, features), got an array",
        ),
        (dict(y_train=np.zeros(3, int)), "y_train must be an array with one target per row of X_"),
        (dict(X_test=np.zeros((2, 2))), "X_test and y_test must both be arrays or both be None"),
        (
            dict(X_test=np.zeros((2, 3)), y_test=np.array([0, 1])),
            "X_test must have the 2 features of X_train, got shape (2, 3)",
        ),
        (dict(feature_names=["u"]), "feature_names must name the 2 features, got 1 names"),
        (dict(classes=None), "classes must be a 1-D array of the original labels"),
        (dict(y_train=np.array([0, 1, 2, 0])), "y_train must hold labels 0 … 1 (one per class)"),
        (dict(y_train=np.array([0.0, 1, 1, 0])), "y_train must be 1-D integer labels"),
        (dict(task="regression"), "classes must be None for regression"),
    ],
)
def test_dataset_checks_its_fields(changes, message):
    with pytest.raises(ValueError) as info:
        make_dataset(**changes)
    assert message in str(info.value)


# ---------------------------------------------------------------------------------------------
# digits


def test_digits_shapes_range_and_stratified_split():
    from sklearn.datasets import load_digits as sklearn_digits

    full = sklearn_digits()
    ds = datasets.load_digits()
    assert ds.name == "digits" and ds.task == "classification"
    assert ds.X_train.shape == (1438, 64) and ds.X_test.shape == (359, 64)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.classes.tolist() == list(range(10)) and len(ds.feature_names) == 64
    X = np.concatenate([ds.X_train, ds.X_test])
    assert X.min() == 0 and X.max() == 1
    assert np.array_equal(np.unique(X * 16), np.arange(17))  # the 17 grey levels, k/16
    # Every sample is in exactly one part: the rows, with their labels, are the source's rows.
    ours = np.column_stack([X * 16, np.concatenate([ds.y_train, ds.y_test])])
    theirs = np.column_stack([full.data, full.target])
    assert np.array_equal(np.unique(ours, axis=0), np.unique(theirs, axis=0))
    assert len(ours) == len(theirs)
    counts = np.bincount(full.target)
    test_counts = np.bincount(ds.y_test, minlength=10)
    assert np.all(np.abs(test_counts - 359 * counts / 1797) < 1)
    assert np.array_equal(np.bincount(ds.y_train, minlength=10) + test_counts, counts)


def test_digits_seed_and_options():
    a, b, c = (datasets.load_digits(seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.X_test, b.X_test) and np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.X_test, c.X_test)
    assert np.array_equal(np.bincount(a.y_test), np.bincount(c.y_test))  # same class counts
    d = datasets.load_digits(test_size=0.5, dtype=np.float64)
    assert len(d.y_test) == 898 and d.X_test.dtype == np.float64  # round(898.5): to even


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(test_size=1.0), ValueError, "test_size must be in (0, 1), got 1.0"),
        (dict(seed="x"), TypeError, "seed must be None, an int seed or a np.random.Generator"),
        (dict(dtype=np.int32), TypeError, "dtype must be np.float32 or np.float64, got int32"),
    ],
)
def test_digits_bad_arguments(kwargs, error, message):
    with pytest.raises(error) as info:
        datasets.load_digits(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "module, loader, package",
    [
        ("sklearn.datasets", "load_digits", "scikit-learn"),
        ("mnist1d.data", "load_mnist1d", "mnist1d"),
    ],
)
def test_a_missing_optional_package_names_the_extra(monkeypatch, module, loader, package):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError) as info:
        getattr(datasets, loader)()
    assert str(info.value) == (
        f"{loader} needs the package {package}; install it with: pip install 'handgrad[datasets]'"
    )


def test_importing_the_modules_loads_no_optional_package():
    code = (
        "import sys, handgrad, handgrad.datasets, handgrad.datasets.splits; "
        "optional = ('sklearn', 'mnist1d', 'scipy', 'matplotlib'); "
        "print(sorted(m for m in optional if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# MNIST-1D


@pytest.fixture(scope="module")
def mnist1d():
    return datasets.load_mnist1d()


def test_mnist1d_shapes_labels_and_scale(mnist1d):
    ds = mnist1d
    assert ds.name == "mnist1d" and ds.task == "classification"
    assert ds.X_train.shape == (4000, 40) and ds.X_test.shape == (1000, 40)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert set(ds.y_train.tolist()) == set(range(10)) == set(ds.y_test.tolist())
    assert ds.classes.tolist() == list(range(10))
    train_counts = np.bincount(ds.y_train)
    assert train_counts.min() == 394 and train_counts.max() == 411  # as the docstring says
    X = np.concatenate([ds.X_train, ds.X_test]).astype(np.float64)
    assert abs(X.mean()) < 1e-6 and abs(X.std() - 1) < 1e-6  # standardised over all 5,000


def test_mnist1d_is_the_same_every_call_and_leaves_global_random_state_alone(mnist1d):
    # A state of its own, which a deterministic generator could not end in by chance; the
    # caller's state comes back afterwards.
    caller_states = np.random.get_state(), random.getstate()  # noqa: NPY002
    np.random.set_state(np.random.RandomState(2024).get_state())  # noqa: NPY002
    random.setstate(random.Random(2024).getstate())
    try:
        numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
        again = datasets.load_mnist1d(dtype=np.float64)
        numpy_after, python_after = np.random.get_state(), random.getstate()  # noqa: NPY002
    finally:
        np.random.set_state(caller_states[0])  # noqa: NPY002
        random.setstate(caller_states[1])
    assert all(np.array_equal(u, v) for u, v in zip(numpy_state, numpy_after))
    assert python_after == python_state
    assert again.X_train.dtype == np.float64
    assert np.array_equal(again.X_train.astype(np.float32), mnist1d.X_train)
    assert np.array_equal(again.y_test, mnist1d.y_test)


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST

STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"]
STEMS.append("t10k-labels-idx1-ubyte")


def idx_bytes(array, magic=None):
    """An IDX file of unsigned bytes: magic 0x0000 08 ndim, big-endian uint32 sizes, the data."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write(path, content, gz):
    path = Path(f"{path}.gz") if gz else Path(path)
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


@pytest.fixture
def fashion(tmp_path):
    """Four small, valid files (5 training and 3 test images), plain or gzipped."""
    rng = np.random.default_rng(0)
    arrays = {
        STEMS[0]: rng.integers(0, 256, (5, 28, 28)),
        STEMS[1]: np.array([9, 0, 3, 3, 7]),
        STEMS[2]: rng.integers(0, 256, (3, 28, 28)),
        STEMS[3]: np.array([1, 8, 0]),
    }

    def make(gz=(False, True, True, False)):
        for (stem, array), z in zip(arrays.items(), gz):
            write(tmp_path / stem, idx_bytes(array), z)
        return arrays

    return tmp_path, make


@pytest.mark.parametrize("gz", [(False,) * 4, (True,) * 4, (False, True, True, False)])
def test_fashion_mnist_reads_small_idx_files(fashion, gz):
    folder, make = fashion
    arrays = make(gz)
    ds = datasets.load_fashion_mnist(folder)
    assert ds.name == "fashion-mnist" and ds.task == "classification"
    assert ds.X_train.shape == (5, 784) and ds.X_test.shape == (3, 784)
    assert ds.X_train.dtype == np.float32
    assert np.array_equal(ds.X_train, arrays[STEMS[0]].reshape(5, 784).astype(np.float32) / 255)
    assert np.array_equal(ds.X_test * 255, arrays[STEMS[2]].reshape(3, 784).astype(np.float32))
    assert ds.y_train.tolist() == [9, 0, 3, 3, 7] and ds.y_test.tolist() == [1, 8, 0]
    assert ds.classes[ds.y_train].tolist() == [
        "Ankle boot",
        "T-shirt/top",
        "Dress",
        "Dress",
        "Sneaker",
    ]
    assert ds.feature_names[0] == "pixel_0_0" and ds.feature_names[29] == "pixel_1_1"


def test_fashion_mnist_as_bytes(fashion):
    folder, make = fashion
    arrays = make()
    ds = datasets.load_fashion_mnist(str(folder), dtype=np.uint8)
    assert ds.X_train.dtype == np.uint8 and ds.X_train.flags.writeable
    assert np.array_equal(ds.X_train, arrays[STEMS[0]].reshape(5, 784))
    ds64 = datasets.load_fashion_mnist(folder, dtype=np.float64)
    assert ds64.X_test.dtype == np.float64 and ds64.X_test.max() <= 1


def test_fashion_mnist_missing_files_say_which_where_and_how(fashion):
    folder, make = fashion
    make()
    (folder / f"{STEMS[1]}.gz").unlink()
    (folder / STEMS[3]).unlink()
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_fashion_mnist(folder)
    message = str(info.value)
    assert message.startswith(
        f"Fashion-MNIST: {STEMS[1]} (or {STEMS[1]}.gz), {STEMS[3]} (or {STEMS[3]}.gz) "
        f"not found in {folder}. "
    )
    assert "apt-get install dataset-fashion-mnist" in message
    assert "from the Fashion-MNIST repository" in message and message.endswith("path=")


def test_fashion_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_fashion_mnist(tmp_path / "nowhere")
    assert f"not found because the folder {tmp_path / 'nowhere'} does not exist" in str(info.value)


def images(n=5, rows=28, cols=28):
    return np.zeros((n, rows, cols), dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "stem, content, message",
    [
        (
            STEMS[0],
            idx_bytes(images(), magic=0x0801),
            "bad magic number 0x00000801, expected 0x00000803 "
            "(IDX, unsigned bytes, 3 dimension(s))",
        ),
        (
            STEMS[1],
            b"\x00\x00\x08",
            "is truncated: an IDX header of 1 dimension(s) takes 8 bytes, the file holds 3",
        ),
        (
            STEMS[0],
            idx_bytes(images())[:-1],
            "is truncated: its header announces 5 × 28 × 28 = 3920 bytes of data, "
            "the file holds 3919",
        ),
        (
            STEMS[0],
            idx_bytes(images()) + b"\x00\x00",
            "is longer than its header announces: 5 × 28 × 28 = 3920 bytes of data",
        ),
        (  # a header asking for 4 × 10⁹ images must fail on the data, not allocate 3 TB
            STEMS[0],
            (0x0803).to_bytes(4, "big")
            + b"".join(d.to_bytes(4, "big") for d in (4_000_000_000, 28, 28))
            + bytes(100),
            "is truncated: its header announces 4000000000 × 28 × 28 = 3136000000000 bytes of "
            "data, the file holds 100",
        ),
        (
            STEMS[2],
            idx_bytes(images(3, 27, 28)),
            "holds images of 27×28 pixels; Fashion-MNIST's are",
        ),
        (STEMS[0], idx_bytes(images(0)), "holds no images"),
        (STEMS[1], idx_bytes(np.arange(4)), "holds 4 labels but"),
        (STEMS[3], idx_bytes(np.array([1, 12, 0])), "labels must be 0 … 9, found 12 at index 1"),
    ],
)
def test_fashion_mnist_corrupt_files_name_the_file_and_the_fault(
    fashion, gz, stem, content, message
):
    folder, make = fashion
    make((False,) * 4)
    (folder / stem).unlink()
    path = write(folder / stem, content, gz)
    with pytest.raises(ValueError) as info:
        datasets.load_fashion_mnist(folder)
    assert str(path) in str(info.value) and message in str(info.value)


def test_fashion_mnist_a_gz_that_is_not_gzip(fashion):
    folder, make = fashion
    make((False,) * 4)
    (folder / STEMS[2]).rename(folder / f"{STEMS[2]}.gz")
    with pytest.raises(ValueError) as info:
        datasets.load_fashion_mnist(folder)
    assert str(info.value).startswith(f"{folder / STEMS[2]}.gz is not a valid gzip file (")


def test_fashion_mnist_a_truncated_gzip_stream(fashion):
    folder, make = fashion
    make((False,) * 4)
    packed = gzip.compress(idx_bytes(images()))
    (folder / STEMS[0]).unlink()
    (folder / f"{STEMS[0]}.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError) as info:
        datasets.load_fashion_mnist(folder)
    assert str(info.value).startswith(f"{folder / STEMS[0]}.gz is not a valid gzip file (")


def test_fashion_mnist_bad_dtype_and_path(fashion):
    folder, make = fashion
    make()
    with pytest.raises(TypeError) as info:
        datasets.load_fashion_mnist(folder, dtype=np.int16)
    assert str(info.value) == (
        "dtype must be np.float32, np.float64 or np.uint8, got <class 'numpy.int16'>"
    )
    with pytest.raises(TypeError) as info:
        datasets.load_fashion_mnist(3)
    assert str(info.value) == "path must be a str or os.PathLike, got 3 (int)"


@pytest.mark.skipif(
    not datasets.FASHION_MNIST_DIR.is_dir(),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)
def test_the_real_fashion_mnist():
    ds = datasets.load_fashion_mnist()
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert ds.X_train.dtype == np.float32
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.X_train.min() == 0 and ds.X_train.max() == 1
    assert ds.classes.tolist()[0] == "T-shirt/top" and ds.classes.tolist()[9] == "Ankle boot"


# ---------------------------------------------------------------------------------------------
# CSV


def write_csv(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


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
            "a,b\n1,0\n\nx,1\n",
            {},
            ValueError,
            "{path}, line 4, column 'a': expected a finite number, got 'x'",
        ),
        (
            "a,b\n1,0\n,1\n",
            {},
            ValueError,
            "{path}, line 3, column 'a': expected a finite number, got ''",
        ),
        (
            "a,b\nnan,0\n",
            {},
            ValueError,
            "{path}, line 2, column 'a': expected a finite number, got 'nan'",
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
        ("a,b\n1,x\n2, \n", {}, ValueError, "{path}, line 3, column 'b': the target is empty"),
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
    assert str(info.value) == message.format(path=path)


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


# ---------------------------------------------------------------------------------------------
# load


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
