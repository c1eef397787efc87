"""Real data sets, loaded offline, as :class:`Dataset` objects ready for ``model.fit``.

Built in, by name (see :func:`load`):

* ``"digits"``: scikit-learn's bundled 8×8 handwritten digits, split here at random by class;
* ``"mnist1d"``: MNIST-1D, generated on this machine by the ``mnist1d`` package;
* ``"fashion-mnist"``: Fashion-MNIST, read from its four IDX files with NumPy alone.

And your own data: a ``.csv`` file with a header row, or an ``.npz`` archive.

Nothing here downloads anything or unpickles anything. scikit-learn and mnist1d are optional
(``pip install 'handgrad[datasets]'``) and imported only by the loaders that need them.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import math
import os
import random
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._validation import as_numeric_array, check_finite, check_float_dtype, describe, make_rng
from .splits import check_fraction, split_indices

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "NAMES",
    "Dataset",
    "load",
    "load_csv",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist1d",
    "load_npz",
]

TASKS = ("classification", "regression")
NAMES = ("digits", "mnist1d", "fashion-mnist")
_EXTRA = "pip install 'handgrad[datasets]'"


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A data set: features and targets, split into a training part and (when there is one) a test
    part, with what is needed to read them.

    Attributes
    ----------
    name : str
    X_train : array (n_train, n_features)
    y_train : array (n_train,)
        Classification: integer labels ``0 … k−1``. Regression: the values (1-D, or 2-D for several
        targets).
    X_test, y_test : arrays, or None when the source has no test part
    task : "classification" or "regression"
    classes : array (k,) or None
        The original label of each encoded label: ``classes[y]`` gives back the source's labels.
        None for regression.
    feature_names : list of str, or None
    target_name : str
    description : str
        Where the data come from and how they were prepared.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str
    classes: np.ndarray | None
    feature_names: list[str] | None
    target_name: str
    description: str

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        _check_part(self.X_train, self.y_train, "X_train", "y_train")
        if (self.X_test is None) != (self.y_test is None):
            raise ValueError("X_test and y_test must both be arrays or both be None")
        n_features = self.X_train.shape[1]
        if self.X_test is not None:
            _check_part(self.X_test, self.y_test, "X_test", "y_test")
            if self.X_test.shape[1] != n_features:
                raise ValueError(
                    f"X_test must have the {n_features} features of X_train, "
                    f"got shape {self.X_test.shape}"
                )
        if self.feature_names is not None and len(self.feature_names) != n_features:
            raise ValueError(
                f"feature_names must name the {n_features} features, "
                f"got {len(self.feature_names)} names"
            )
        if self.task == "regression":
            if self.classes is not None:
                raise ValueError(
                    f"classes must be None for regression, got {describe(self.classes)}"
                )
            return
        if not isinstance(self.classes, np.ndarray) or self.classes.ndim != 1:
            raise ValueError(
                f"classes must be a 1-D array of the original labels for classification, "
                f"got {describe(self.classes)}"
            )
        for y, name in ((self.y_train, "y_train"), (self.y_test, "y_test")):
            if y is None:
                continue
            if y.ndim != 1 or y.dtype.kind not in "iu":
                raise ValueError(f"{name} must be 1-D integer labels, got {describe(y)}")
            if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
                raise ValueError(
                    f"{name} must hold labels 0 … {len(self.classes) - 1} (one per class), "
                    f"got values from {y.min()} to {y.max()}"
                )

    def __repr__(self) -> str:
        test = "no test part" if self.X_test is None else f"X_test {_shape(self.X_test)}"
        kind = "regression" if self.classes is None else f"{len(self.classes)} classes"
        return f"Dataset({self.name!r}, {kind}, X_train {_shape(self.X_train)}, {test})"


def _shape(X: np.ndarray) -> str:
    return f"{X.shape} {X.dtype}"


def _check_part(X: Any, y: Any, x_name: str, y_name: str) -> None:
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise ValueError(f"{x_name} must be a 2-D array (samples, features), got {describe(X)}")
    if not isinstance(y, np.ndarray) or y.ndim not in (1, 2) or len(y) != len(X):
        raise ValueError(
            f"{y_name} must be an array with one target per row of {x_name} ({len(X)} rows), "
            f"got {describe(y)}"
        )


def _import_optional(module: str, package: str, loader: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{loader} needs the package {package}; install it with: {_EXTRA}"
        ) from exc


# ----------------------------------------------------------------------------------------------
# digits


def load_digits(
    *,
    test_size: float = 0.2,
    seed: int | np.random.Generator | None = 0,
    dtype: Any = np.float32,
) -> Dataset:
    """scikit-learn's bundled handwritten digits: 1,797 images of 8×8 pixels, classes 0 … 9.

    The pixels (integers 0 … 16) are divided by 16, so ``X`` is in [0, 1], shape (n, 64), row by
    row. The samples are split at random by :func:`~handgrad.splits.split_indices`, stratified by
    class: with ``test_size=0.2``, 1,438 training and 359 test samples.

    Parameters
    ----------
    test_size : float in (0, 1)
    seed : int, Generator or None
        The split's randomness; the same seed gives the same split.
    dtype : np.float32 or np.float64
    """
    test_size = check_fraction(test_size, "test_size")
    rng = make_rng(seed, "seed")
    dtype = check_float_dtype(dtype)
    sk_datasets = _import_optional("sklearn.datasets", "scikit-learn", "load_digits")
    bunch = sk_datasets.load_digits()
    X = (bunch.data / 16).astype(dtype)
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
        ),
    )


# ----------------------------------------------------------------------------------------------
# MNIST-1D


def load_mnist1d(*, dtype: Any = np.float32) -> Dataset:
    """MNIST-1D, generated on this machine by the ``mnist1d`` package with its standard arguments.

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
            f"MNIST-1D: the digits 0-9 as 1-D signals of {X_train.shape[1]} points, generated "
            f"offline by the mnist1d package (standard arguments, seed {args.seed}): "
            f"{len(y_train)} training and {len(y_test)} test samples, standardised."
        ),
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
_IDX_UNSIGNED_BYTE = 0x08
_CHUNK = 1 << 20


def load_fashion_mnist(
    path: str | os.PathLike | None = None, *, dtype: Any = np.float32
) -> Dataset:
    """Fashion-MNIST: 28×28 grey-scale images of 10 kinds of clothing, read from its IDX files.

    The folder ``path`` (default ``/usr/share/datasets/fashion-mnist``, where Debian's package
    ``dataset-fashion-mnist`` installs them) must hold ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each
    plain or gzipped (``.gz``). The full set has 60,000 training and 10,000 test images.

    Images are flattened row by row to 784 pixels and scaled from 0 … 255 to [0, 1]; with
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
    folder = FASHION_MNIST_DIR if path is None else Path(_fspath(path, "path"))
    files = _find_fashion_files(folder)
    parts = []
    for images_file, labels_file in ((files[0], files[1]), (files[2], files[3])):
        images = _read_idx(images_file, ndim=3)
        labels = _read_idx(labels_file, ndim=1)
        n = images.shape[0]
        if images.shape[1:] != (_SIDE, _SIDE):
            rows, cols = images.shape[1:]
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
        X = images.reshape(n, _SIDE * _SIDE)
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
            f"images, flattened to 784 pixels"
            + (" (bytes 0-255)." if dt == np.uint8 else " scaled to [0, 1].")
        ),
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


def _fspath(path: Any, name: str) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a str or os.PathLike, got {describe(path)}") from None


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


# ----------------------------------------------------------------------------------------------
# your own data: CSV and NPZ


def load_csv(
    path: str | os.PathLike,
    target: str,
    *,
    task: str = "auto",
    delimiter: str = ",",
) -> Dataset:
    """A CSV file with a header row: the column named ``target`` is the target, every other column
    a numeric feature. Blank lines are skipped; names and target cells are stripped of spaces.

    ``task="auto"`` decides from the target column: integers, ``true``/``false`` or any other
    text → classification, with labels encoded ``0 … k−1`` in the order of the sorted originals
    (``classes``); numbers that are not all integers → regression. ``task="classification"`` or
    ``"regression"`` overrides that. There is no test part: ``X_test`` and ``y_test`` are None.

    Raises
    ------
    ValueError
        An unknown target column (the message lists the columns), a row with a different number
        of fields than the header, a cell that is not a finite number (naming its column, line
        and value), an empty target cell, a file without data rows.
    """
    task = _check_task(task)
    path = Path(_fspath(path, "path"))
    if not isinstance(target, str):
        raise TypeError(f"target must be the name of a column (a str), got {describe(target)}")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise TypeError(f"delimiter must be a one-character str, got {describe(delimiter)}")
    header, rows, lines = _read_csv(path, delimiter)
    if target not in header:
        raise ValueError(
            f"target {target!r} is not a column of {path}; its columns are: {', '.join(header)}"
        )
    if len(header) < 2:
        raise ValueError(f"{path} has only the target column {target!r}; it needs features too")
    t = header.index(target)
    columns = list(zip(*rows))
    X = np.empty((len(rows), len(header) - 1))
    feature_names = []
    for j, name in enumerate(n for i, n in enumerate(header) if i != t):
        feature_names.append(name)
        X[:, j] = _parse_floats(columns[j if j < t else j + 1], name, lines, path)
    cells = [cell.strip() for cell in columns[t]]
    y, classes, task = _csv_target(cells, task, target, lines, path)
    return _own_dataset(path, X, y, task, classes, feature_names, target, f"column {target!r}")


def _check_task(task: Any) -> str:
    if task not in ("auto", *TASKS):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    return task


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    """The header's names, the data rows, and each row's line number in the file."""
    # utf-8-sig drops the byte-order mark that spreadsheet programs put at the start.
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path} is empty: expected a header row with the column names")
        header = [name.strip() for name in header]
        seen = set()
        for name in header:
            if name in seen:
                raise ValueError(f"{path}: the column name {name!r} appears more than once")
            seen.add(name)
        rows, lines = [], []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}, line {reader.line_num}: expected {len(header)} fields as in the "
                    f"header, got {len(row)}"
                )
            rows.append(row)
            lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"{path} has a header but no data rows")
    return header, rows, lines


def _parse_floats(cells, column: str, lines: list[int], path: Path) -> np.ndarray:
    try:
        out = np.array([float(cell) for cell in cells])
    except ValueError:
        out = None
    if out is None or not np.isfinite(out).all():
        # Slow path, only to say where: the first cell that is not a finite number.
        for cell, line in zip(cells, lines):
            try:
                ok = math.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{path}, line {line}, column {column!r}: expected a finite number, "
                    f"got {cell!r}"
                )
    return out


def _csv_target(cells: list[str], task: str, target: str, lines: list[int], path: Path):
    """``(y, classes, task)`` from the target column's cells."""
    for cell, line in zip(cells, lines):
        if not cell:
            raise ValueError(f"{path}, line {line}, column {target!r}: the target is empty")
    kind = _text_kind(cells)
    if task == "auto":
        task = "regression" if kind == "float" else "classification"
    if task == "regression":
        return _parse_floats(cells, target, lines, path), None, task
    if kind == "int":
        values = np.array([int(c) for c in cells], dtype=np.int64)
    elif kind == "bool":
        values = np.array([c.lower() == "true" for c in cells])
    elif kind == "float":
        values = _parse_floats(cells, target, lines, path)
    else:
        values = np.array(cells)
    y, classes = _encode(values)
    return y, classes, task


def _text_kind(cells: list[str]) -> str:
    """The narrowest kind every cell can be read as: "int", "bool", "float" or "str"."""
    for kind, parse in (("int", int), ("float", float)):
        try:
            for cell in cells:
                parse(cell)
        except ValueError:
            if kind == "int" and all(c.lower() in ("true", "false") for c in cells):
                return "bool"
            continue
        return kind
    return "str"


def _encode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels encoded as ``0 … k−1`` and the sorted original values, ``classes[y] == values``."""
    classes, y = np.unique(values, return_inverse=True)
    return y.reshape(len(values)).astype(np.int64), classes


def load_npz(
    path: str | os.PathLike,
    *,
    X: str = "X",
    y: str = "y",
    task: str = "auto",
) -> Dataset:
    """An ``.npz`` archive (``np.savez``) holding the features under the name ``X`` and the targets
    under the name ``y``. It is read with ``allow_pickle=False``: an array of Python objects is
    refused, never unpickled.

    ``X`` must be 2-D numbers, finite; it is kept as float32 or float64, other numbers become
    float64. ``task="auto"``: integer, bool or string targets → classification (encoded as in
    :func:`load_csv`), float targets → regression (1-D, or 2-D for several targets). There is
    no test part.
    """
    task = _check_task(task)
    path = Path(_fspath(path, "path"))
    for value, name in ((X, "X"), (y, "y")):
        if not isinstance(value, str):
            raise TypeError(
                f"{name} must be the name of an array in the archive, got {describe(value)}"
            )
    # Opened here rather than by np.load, which leaves its own handle open when the zip is bad.
    with open(path, "rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except (ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(
                f"{path} is not an .npz archive NumPy can read without pickle ({exc})"
            ) from exc
        if isinstance(archive, np.ndarray):
            raise ValueError(
                f"{path} holds a single array (.npy); expected an .npz archive of named arrays"
            )
        with archive:
            features = _npz_array(archive, X, "X", path)
            targets = _npz_array(archive, y, "y", path)
    name = f"array {X!r} of {path}"
    features = as_numeric_array(features, name)
    if features.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {features.shape}")
    if features.dtype not in (np.float32, np.float64):
        features = features.astype(np.float64)
    check_finite(features, name)
    name = f"array {y!r} of {path}"
    if targets.ndim == 0 or len(targets) != len(features):
        raise ValueError(
            f"{name} must hold one target per row of X ({len(features)} rows), "
            f"got shape {targets.shape}"
        )
    kind = targets.dtype.kind
    if kind not in "biuUSf":
        raise TypeError(f"{name} must hold numbers, bools or strings, got dtype {targets.dtype}")
    if task == "auto":
        task = "regression" if kind == "f" else "classification"
    if kind == "f":
        check_finite(targets, name)
    if task == "regression":
        if kind not in "biuf":
            raise TypeError(f"task='regression' needs numbers in {name}, got dtype {targets.dtype}")
        if targets.ndim > 2:
            raise ValueError(f"{name} must be 1-D or 2-D for regression, got shape {targets.shape}")
        if kind != "f":
            targets = targets.astype(np.float64)
        classes = None
    else:
        if targets.ndim != 1:
            raise ValueError(
                f"{name} must be 1-D labels for classification, got shape {targets.shape}"
            )
        targets, classes = _encode(targets)
    return _own_dataset(path, features, targets, task, classes, None, y, f"arrays {X!r} and {y!r}")


def _npz_array(archive, key: str, argument: str, path: Path) -> np.ndarray:
    if key not in archive.files:
        raise ValueError(
            f"{argument}={key!r}: {path} has no array of that name; "
            f"it holds: {', '.join(archive.files) or 'nothing'}"
        )
    try:
        return archive[key]
    except ValueError as exc:
        raise ValueError(
            f"array {key!r} of {path} cannot be read without unpickling it ({exc}); handgrad "
            f"never unpickles: save it as an array of numbers or strings"
        ) from exc


def _own_dataset(path, X, y, task, classes, feature_names, target_name, what) -> Dataset:
    kind = "regression" if classes is None else f"classification into {len(classes)} classes"
    return Dataset(
        name=path.stem,
        X_train=X,
        y_train=y,
        X_test=None,
        y_test=None,
        task=task,
        classes=classes,
        feature_names=feature_names,
        target_name=target_name,
        description=(
            f"Read from {path} ({what}): {X.shape[0]} samples of {X.shape[1]} features, {kind}."
        ),
    )


# ----------------------------------------------------------------------------------------------
# by name


def load(name_or_path: str | os.PathLike, **kwargs: Any) -> Dataset:
    """A data set by name, or a file by its extension; ``kwargs`` go to the loader.

    ``"digits"`` → :func:`load_digits`, ``"mnist1d"`` → :func:`load_mnist1d`,
    ``"fashion-mnist"`` → :func:`load_fashion_mnist`; a path ending in ``.csv`` →
    :func:`load_csv` (which needs ``target=``), in ``.npz`` → :func:`load_npz`. Anything else
    is a ValueError that lists these choices.
    """
    loaders = {"digits": load_digits, "mnist1d": load_mnist1d, "fashion-mnist": load_fashion_mnist}
    if isinstance(name_or_path, str) and name_or_path in loaders:
        return loaders[name_or_path](**kwargs)
    path = Path(_fspath(name_or_path, "name_or_path"))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if "target" not in kwargs:
            raise TypeError(f"loading the CSV file {path} needs target=, the target column's name")
        return load_csv(path, **kwargs)
    if suffix == ".npz":
        return load_npz(path, **kwargs)
    choices = ", ".join(repr(n) for n in NAMES)
    raise ValueError(
        f"name_or_path must be one of {choices}, or a path ending in .csv or .npz, "
        f"got {name_or_path!r}"
    )
