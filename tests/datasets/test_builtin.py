import gzip
import random
import subprocess
import sys

import numpy as np
import pytest
from helpers.datasets import STEMS, idx_bytes, write
from helpers.system import needs_fashion_mnist

from handgrad import datasets

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


@needs_fashion_mnist
def test_the_real_fashion_mnist():
    ds = datasets.load_fashion_mnist()
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert ds.X_train.dtype == np.float32
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.X_train.min() == 0 and ds.X_train.max() == 1
    assert ds.classes.tolist()[0] == "T-shirt/top" and ds.classes.tolist()[9] == "Ankle boot"


# ---------------------------------------------------------------------------------------------
# Rows as images


def test_digits_as_images_are_the_same_pixels_channels_last():
    flat, images = datasets.load_digits(), datasets.load_digits(images=True)
    assert images.X_train.shape == (1438, 8, 8, 1) and images.X_test.shape == (359, 8, 8, 1)
    assert flat.row_shape == images.row_shape == (8, 8, 1) and images.n_features == 64
    np.testing.assert_array_equal(images.X_train[5, 2, 3, 0], flat.X_train[5, 2 * 8 + 3])
    np.testing.assert_array_equal(images.y_train, flat.y_train)


def test_mnist1d_as_signals(mnist1d):
    ds = datasets.load_mnist1d(images=True)
    assert ds.X_train.shape == (4000, 40, 1) and ds.row_shape == (40, 1)
    np.testing.assert_array_equal(ds.X_train[..., 0], mnist1d.X_train)


def test_fashion_mnist_as_images(fashion):
    folder, make = fashion
    arrays = make()
    ds = datasets.load_fashion_mnist(folder, images=True)
    assert ds.X_train.shape == (5, 28, 28, 1) and ds.row_shape == (28, 28, 1)
    np.testing.assert_array_equal(ds.X_train[..., 0], arrays[STEMS[0]].astype(np.float32) / 255)
    with pytest.raises(TypeError, match="images must be True or False"):
        datasets.load_fashion_mnist(folder, images="yes")


@needs_fashion_mnist
def test_the_real_fashion_mnist_as_images():
    ds = datasets.load_fashion_mnist(images=True)
    assert ds.X_train.shape == (60000, 28, 28, 1) and ds.X_test.shape == (10000, 28, 28, 1)
