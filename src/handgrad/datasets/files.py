"""Your own data as a :class:`Dataset`: a CSV file, or an ``.npz`` archive.

The CSV reader and the encoding of its columns are in :mod:`handgrad.datasets.table`;
:func:`read_training_table` is what :func:`load_csv` reads before it encodes, for code that
encodes with its own choice of training rows (the command line's validation split).
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .._validation import as_numeric_array, check_finite, describe
from .dataset import Dataset, check_task, encode_labels, file_dataset, fspath
from .table import (
    MISSING,
    PYTHON_SPELLING,
    Column,
    Table,
    TableEncoder,
    is_number,
    read_table,
)


def load_csv(
    path: str | os.PathLike,
    target: str,
    *,
    task: str = "auto",
    delimiter: str = ",",
    header: bool = True,
    ignore: Sequence[str] = (),
) -> Dataset:
    """A CSV file: the column named ``target`` is the target, every other column a feature.

    Columns of numbers are features as they are, with a missing cell (empty, ``NA``, ``NaN`` …)
    filled with the column's mean; columns of text are one-hot encoded, one feature per
    category (``colour=red``). Rows whose target is missing are left out, and the description
    says how many. ``ds.encoder`` (a :class:`~handgrad.datasets.table.TableEncoder`) encodes the
    rows of another file the same way: ``ds.encoder.read_csv(new_path)``. What counts as a
    number, text and a missing cell is in :mod:`handgrad.datasets.table`. Blank lines are
    skipped; names and cells are stripped of spaces. ``ignore`` names columns to leave out,
    which are never parsed. ``header=False`` reads a file without a header row, naming its
    columns ``"1"``, ``"2"``, …

    ``task="auto"`` decides from the target column: integers, ``true``/``false`` or any other
    text → classification, with labels encoded ``0 … k−1`` in the order of the sorted originals
    (``classes``); numbers that are not all integers → regression. ``task="classification"`` or
    ``"regression"`` overrides that. There is no test part: ``X_test`` and ``y_test`` are None.

    Raises
    ------
    ValueError
        An unknown target or ignored column (the message lists the columns), a header that looks
        like data or like another delimiter's, a row with a different number of fields than the
        header, a cell of a column of numbers that is not a finite number (naming its column,
        line and value), a file that is not UTF-8 text, a file without data rows.
    """
    task = check_task(task)
    path = Path(fspath(path, "path"))
    if not isinstance(target, str):
        raise TypeError(f"target must be the name of a column (a str), got {describe(target)}")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise TypeError(f"delimiter must be a one-character str, got {describe(delimiter)}")
    if isinstance(ignore, str):
        raise TypeError(f"ignore must be a list of column names, got {describe(ignore)}")
    table, y, classes, task, left_out = read_training_table(
        path, target, task, delimiter=delimiter, header=header, ignore=ignore
    )
    encoder = TableEncoder.fit(table, exclude=(target,))
    X = encoder.transform(table)
    notes = f" Left out {left_out} rows whose target is missing." if left_out else ""
    notes += "".join(f" {line}." for line in encoder.report)
    return file_dataset(
        path, X, y, task, classes, encoder.feature_names, target, f"column {target!r}", encoder,
        notes,
    )  # fmt: skip


def read_training_table(
    path: Path,
    target: str,
    task: str,
    *,
    delimiter: str = ",",
    header: bool = True,
    ignore: Sequence[str] = (),
    spelling: Mapping[str, str] = PYTHON_SPELLING,
    engine: str = "auto",
) -> tuple[Table, np.ndarray, np.ndarray | None, str, int]:
    """A CSV file's table without the rows whose target is missing, the target encoded, its
    classes (None for regression), the task, and how many rows were left out."""
    if target in ignore:
        raise ValueError(f"{spelling['ignore']}: {target!r} is the target, not a feature")
    table = read_table(
        path,
        delimiter=delimiter,
        header=header,
        ignore=ignore,
        kinds={target: "raw"},
        spelling=spelling,
        engine=engine,
    )
    if target not in table.columns:
        raise ValueError(
            f"target {target!r} is not a column of {path}; its columns are: "
            f"{', '.join(table.names)}"
        )
    if len(table.names) < 2:
        raise ValueError(f"{path} has only the target column {target!r}; it needs features too")
    if table.n_rows == 0:
        raise ValueError(f"{path} has a header but no data rows")
    cells = [c.strip() for c in table[target].values]
    keep = np.array([c.lower() not in MISSING for c in cells])
    if not keep.any():
        raise ValueError(f"{path}, column {target!r}: the target is missing in every row")
    left_out = int((~keep).sum())
    if left_out:
        rows = np.flatnonzero(keep)
        columns = {
            name: Column(c.name, c.kind, c.values[rows], c.labels)
            for name, c in table.columns.items()
        }
        lines = None if table.lines is None else table.lines[rows]
        table = Table(table.path, table.names, columns, len(rows), lines)
        cells = [c for c, k in zip(cells, keep) if k]
    try:
        y, classes, task = _csv_target(cells, task, target, table.lines, path)
    except _LinesNeededError:  # pyarrow read the file: the csv reader says on which line
        return read_training_table(
            path, target, task, delimiter=delimiter, header=header, ignore=ignore,
            spelling=spelling, engine="csv",
        )  # fmt: skip
    return table, y, classes, task, left_out


class _LinesNeededError(Exception):
    """A cell to name, in a table read without line numbers."""


def parse_floats(cells, column: str, lines: np.ndarray | None, path: Path) -> np.ndarray:
    """The cells of ``column`` as float64, or a ValueError naming the first that is not a plain
    finite decimal number, by its line."""
    for i, cell in enumerate(cells):
        if not (is_number(cell) and math.isfinite(float(cell))):
            if lines is None:
                raise _LinesNeededError
            line = int(lines[i])
            raise ValueError(
                f"{path}, line {line}, column {column!r}: expected a finite number, got {cell!r}"
            )
    return np.array([float(cell) for cell in cells])


def _csv_target(cells: list[str], task: str, target: str, lines, path: Path):
    """``(y, classes, task)`` from the target column's cells."""
    kind = _text_kind(cells)
    if task == "auto":
        task = "regression" if kind == "float" else "classification"
    if task == "regression":
        return parse_floats(cells, target, lines, path), None, task
    if kind == "int":
        values = np.array([int(c) for c in cells], dtype=np.int64)
    elif kind == "bool":
        values = np.array([c.lower() == "true" for c in cells])
    elif kind == "float":
        values = parse_floats(cells, target, lines, path)
    else:
        values = np.array(cells)
    y, classes = encode_labels(values)
    return y, classes, task


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _text_kind(cells: list[str]) -> str:
    """The narrowest kind every cell can be read as: "int", "bool", "float" or "str" (plain
    decimals only: ``1_000`` is text)."""
    if all(_INTEGER.fullmatch(c) for c in cells):
        return "int"
    if all(c.lower() in ("true", "false") for c in cells):
        return "bool"
    if all(is_number(c) and math.isfinite(float(c)) for c in cells):
        return "float"
    return "str"


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
    task = check_task(task)
    path = Path(fspath(path, "path"))
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
        targets, classes = encode_labels(targets)
    return file_dataset(path, features, targets, task, classes, None, y, f"arrays {X!r} and {y!r}")


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
