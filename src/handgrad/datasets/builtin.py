"""The built-in data sets, loaded offline: scikit-learn's digits, MNIST-1D, Fashion-MNIST.

Nothing here downloads anything or unpickles anything. scikit-learn and mnist1d are optional
(``pip install 'handgrad[datasets]'``) and imported only by the loaders that need them.
"""

from __future__ import annotations

import gzip
import importlib
import math
import os
import random
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .._validation import check_bool, check_float_dtype, make_rng
from .dataset import Dataset, fspath
from .splits import check_fraction, split_indices

_EXTRA = "pip install 'handgrad[datasets]'"
#: One digit as ``load_digits(images=True)`` gives it, channels last.
DIGITS_SHAPE = (8, 8, 1)


def _import_optional(module: str, package: str, loader: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{loader} needs the package {package}; install it with: {_EXTRA}"
        ) from exc


def load_digits(
    *,
    test_size: float = 0.2,
    seed: int | np.random.Generator | None = 0,
    dtype: Any = np.float32,
    images: bool = False,
) -> Dataset:
    """scikit-learn's bundled handwritten digits: 1,797 images of 8×8 pixels, classes 0 … 9.

    The pixels (integers 0 … 16) are divided by 16, so ``X`` is in [0, 1], shape (n, 64), row by
    row, or ``(n, 8, 8, 1)`` with ``images=True`` (channels last, for a convolution). The samples
    are split at random by :func:`~handgrad.datasets.splits.split_indices`, stratified by class:
    with ``test_size=0.2``, 1,438 training and 359 test samples.

    Parameters
    ----------
    test_size : float in (0, 1)
    seed : int, Generator or None
        The split's randomness; the same seed gives the same split.
    dtype : np.float32 or np.float64
    images : bool
        Rows as images ``(8, 8, 1)`` rather than 64 features.
    """
    test_size = check_fraction(test_size, "test_size")
    rng = make_rng(seed, "seed")
    dtype = check_float_dtype(dtype)
    images = check_bool(images, "images")
    sk_datasets = _import_optional("sklearn.datasets", "scikit-learn", "load_digits")
    bunch = sk_datasets.load_digits()
    X = (bunch.data / 16).astype(dtype)
    if images:
        X = X.reshape(len(X), *DIGITS_SHAPE)
    y = np.asarray(bunch.target, dtype=np.int64)
    train, test = split_indices(len(y), test_size, rng, stratify=y)
    return Dataset(
        name="digits",
        X_train=X[train],
        y_train=y[train],
        X_test=X[test],
        y_test=y[test],
        task="classification",
        classes=np.arange(10),
        feature_names=list(bunch.feature_names),
        target_name="digit",
        description=(
            f"Handwritten digits 0-9 as 8×8 images (64 pixels, 0-16 scaled to [0, 1]), the "
            f"{len(y)} samples bundled with scikit-learn (from the UCI 'Optical Recognition of "
            f"Handwritten Digits' data). Split at random, stratified by class, into {len(train)} "
            f"training and {len(test)} test samples (test_size={test_size})."
            + (" Rows as images (8, 8, 1)." if images else "")
        ),
        row_shape=DIGITS_SHAPE,
    )


# ----------------------------------------------------------------------------------------------
# MNIST-1D


def load_mnist1d(*, dtype: Any = np.float32, images: bool = False) -> Dataset:
    """MNIST-1D, generated on this machine by the ``mnist1d`` package with its standard arguments.

    ``X`` is ``(n, 40)``, or ``(n, 40, 1)`` with ``images=True``: each sample as a signal of one
    channel, for a ``Conv1D``.

    Each sample is one of ten 1-D templates (the digits 0 … 9) padded, scaled, translated, sheared,
    given correlated and independent noise, and resampled to 40 points. The package makes 5,000
    samples (seed 42), shuffles them, centres and scales them to standard deviation 1 over all
    5,000, and gives the first 4,000 for training and the last 1,000 for testing. The classes are
    not balanced exactly: with mnist1d 0.0.2 the training part has 394 to 411 samples per class.

    The package's ``get_dataset`` would download a pickle; this loader calls its generator
    ``make_dataset`` instead, so nothing is downloaded or unpickled. The data are the same on
    every call; generating them takes about 1 s.
    """
    dtype = check_float_dtype(dtype)
    images = check_bool(images, "images")
    generator = _import_optional("mnist1d.data", "mnist1d", "load_mnist1d")
    args = generator.get_dataset_args()
    # make_dataset seeds NumPy's and Python's global generators and draws from them: restoring
    # both afterwards leaves the caller's global random state as it was.
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = generator.make_dataset(args)
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    X_train, X_test = np.asarray(data["x"], dtype=dtype), np.asarray(data["x_test"], dtype=dtype)
    y_train = np.asarray(data["y"], dtype=np.int64)
    y_test = np.asarray(data["y_test"], dtype=np.int64)
    length = X_train.shape[1]
    if images:
        X_train, X_test = X_train[..., None], X_test[..., None]
    return Dataset(
        name="mnist1d",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        task="classification",
        classes=np.arange(10),
        feature_names=None,
        target_name="digit",
        description=(
            f"MNIST-1D: the digits 0-9 as 1-D signals of {length} points, generated "
            f"offline by the mnist1d package (standard arguments, seed {args.seed}): "
            f"{len(y_train)} training and {len(y_test)} test samples, standardised."
            + (f" Rows as signals ({length}, 1)." if images else "")
        ),
        row_shape=(length, 1),
    )


# ----------------------------------------------------------------------------------------------
# Fashion-MNIST

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's package ``dataset-fashion-mnist`` puts the four files."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_SIDE = 28
#: One Fashion-MNIST image as ``images=True`` gives it, channels last.
FASHION_MNIST_SHAPE = (_SIDE, _SIDE, 1)
_IDX_UNSIGNED_BYTE = 0x08
_CHUNK = 1 << 20


def load_fashion_mnist(
    path: str | os.PathLike | None = None, *, dtype: Any = np.float32, images: bool = False
) -> Dataset:
    """Fashion-MNIST: 28×28 grey-scale images of 10 kinds of clothing, read from its IDX files.

    The folder ``path`` (default ``/usr/share/datasets/fashion-mnist``, where Debian's package
    ``dataset-fashion-mnist`` installs them) must hold ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each
    plain or gzipped (``.gz``). The full set has 60,000 training and 10,000 test images.

    Images are flattened row by row to 784 pixels, or kept as ``(28, 28, 1)`` with
    ``images=True`` (channels last, for a convolution), and scaled from 0 … 255 to [0, 1]; with
    ``dtype=np.uint8`` they are left as bytes. ``classes`` holds the ten names.

    Raises
    ------
    FileNotFoundError
        A file is missing; the message says which, where, and how to get the files.
    ValueError
        A file is not a valid IDX file of the expected kind: bad magic number, a header whose
        sizes do not match the data that follow, images not 28×28, labels outside 0 … 9.
    """
    dt = _check_image_dtype(dtype)
    images = check_bool(images, "images")
    folder = FASHION_MNIST_DIR if path is None else Path(fspath(path, "path"))
    files = _find_fashion_files(folder)
    parts = []
    for images_file, labels_file in ((files[0], files[1]), (files[2], files[3])):
        pixels = _read_idx(images_file, ndim=3)
        labels = _read_idx(labels_file, ndim=1)
        n = pixels.shape[0]
        if pixels.shape[1:] != (_SIDE, _SIDE):
            rows, cols = pixels.shape[1:]
            raise ValueError(
                f"{images_file} holds images of {rows}×{cols} pixels; "
                f"Fashion-MNIST's are {_SIDE}×{_SIDE}"
            )
        if n == 0:
            raise ValueError(f"{images_file} holds no images")
        if len(labels) != n:
            raise ValueError(
                f"{labels_file} holds {len(labels)} labels but {images_file} holds {n} images"
            )
        bad = np.flatnonzero(labels >= len(FASHION_MNIST_CLASSES))
        if len(bad):
            raise ValueError(
                f"{labels_file}: labels must be 0 … 9, found {labels[bad[0]]} at index {bad[0]}"
            )
        X = pixels.reshape(n, *FASHION_MNIST_SHAPE) if images else pixels.reshape(n, -1)
        if dt != np.uint8:
            X = X.astype(dt)
            X /= dt.type(255)
        parts.append((X, labels.astype(np.int64)))
    (X_train, y_train), (X_test, y_test) = parts
    return Dataset(
        name="fashion-mnist",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        task="classification",
        classes=np.array(FASHION_MNIST_CLASSES),
        feature_names=[f"pixel_{r}_{c}" for r in range(_SIDE) for c in range(_SIDE)],
        target_name="article",
        description=(
            f"Fashion-MNIST: 28×28 grey-scale images of 10 kinds of clothing from Zalando's "
            f"articles, read from {folder}: {len(y_train)} training and {len(y_test)} test "
            "images"
            + (" as (28, 28, 1) arrays" if images else ", flattened to 784 pixels")
            + (" (bytes 0-255)." if dt == np.uint8 else " scaled to [0, 1].")
        ),
        row_shape=FASHION_MNIST_SHAPE,
    )


def _check_image_dtype(dtype: Any) -> np.dtype:
    allowed = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint8))
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in allowed:
        raise TypeError(f"dtype must be np.float32, np.float64 or np.uint8, got {dtype!r}")
    return dt


def _find_fashion_files(folder: Path) -> list[Path]:
    """The four files in ``folder``, each plain or gzipped; all missing ones reported at once."""
    found, missing = [], []
    for stem in _FASHION_FILES:
        plain, gz = folder / stem, folder / f"{stem}.gz"
        if plain.is_file():
            found.append(plain)
        elif gz.is_file():
            found.append(gz)
        else:
            missing.append(f"{stem} (or {stem}.gz)")
    if missing:
        where = f"in {folder}" if folder.is_dir() else f"because the folder {folder} does not exist"
        raise FileNotFoundError(
            f"Fashion-MNIST: {', '.join(missing)} not found {where}. To get the files, install "
            f"Debian's package (apt-get install dataset-fashion-mnist), which puts them in "
            f"{FASHION_MNIST_DIR}, or download "
            f"{', '.join(s + '.gz' for s in _FASHION_FILES)} from the Fashion-MNIST repository "
            f"(zalandoresearch/fashion-mnist on GitHub) and pass their folder as path="
        )
    return found


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with ``ndim`` dimensions, as a uint8 array of that shape.

    Layout: a 4-byte magic number ``0x0000`` · type (0x08, unsigned byte) · ndim, then ndim sizes
    as big-endian uint32, then the ``∏ sizes`` bytes of data, row-major. The sizes are checked
    against the data that follow before anything of their size is allocated, so a corrupt
    header cannot ask for gigabytes.
    """
    gzipped = path.suffix == ".gz"
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
            header_size = 4 + 4 * ndim
            header = f.read(header_size)
            expected = (_IDX_UNSIGNED_BYTE << 8) | ndim
            if len(header) >= 4 and int.from_bytes(header[:4], "big") != expected:
                raise ValueError(
                    f"{path}: bad magic number 0x{int.from_bytes(header[:4], 'big'):08x}, "
                    f"expected 0x{expected:08x} (IDX, unsigned bytes, {ndim} dimension(s))"
                )
            if len(header) < header_size:
                raise ValueError(
                    f"{path} is truncated: an IDX header of {ndim} dimension(s) takes "
                    f"{header_size} bytes, the file holds {len(header)}"
                )
            dims = tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
            size = math.prod(dims)
            if not gzipped:
                _check_length(path, dims, size, os.fstat(f.fileno()).st_size - header_size)
            data = _read_data(f, path, dims, size)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} is not a valid gzip file ({exc})") from exc
    return data.reshape(dims)


def _check_length(path: Path, dims: tuple[int, ...], size: int, length: int) -> None:
    sizes = " × ".join(str(d) for d in dims)
    if length < size:
        raise ValueError(
            f"{path} is truncated: its header announces {sizes} = {size} bytes of data, "
            f"the file holds {length}"
        )
    if length > size:
        raise ValueError(
            f"{path} is longer than its header announces: {sizes} = {size} bytes of data, "
            f"the file holds {length}"
        )


def _read_data(f: BinaryIO, path: Path, dims: tuple[int, ...], size: int) -> np.ndarray:
    # In bounded chunks: memory grows with the data actually there, not with what the header
    # claims (a gzip stream's length is only known once it is read).
    chunks, length = [], 0
    while length < size:
        chunk = f.read(min(_CHUNK, size - length))
        if not chunk:
            break
        chunks.append(chunk)
        length += len(chunk)
    _check_length(path, dims, size, length)
    if f.read(1):
        sizes = " × ".join(str(d) for d in dims)
        raise ValueError(
            f"{path} is longer than its header announces: {sizes} = {size} bytes of data, "
            f"and more follow"
        )
    out = np.empty(size, dtype=np.uint8)
    start = 0
    for chunk in chunks:
        out[start : start + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        start += len(chunk)
    return out
