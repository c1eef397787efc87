"""Your own data as a :class:`Dataset`: a CSV file with a header row, or an ``.npz`` archive.

:func:`read_csv_table` and :func:`parse_floats` are the readers underneath, for code that reads a
file's columns by name (the command line's ``predict``).
"""

from __future__ import annotations

import csv
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from .._validation import as_numeric_array, check_finite, describe
from .dataset import Dataset, check_task, encode_labels, file_dataset, fspath


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
    task = check_task(task)
    path = Path(fspath(path, "path"))
    if not isinstance(target, str):
        raise TypeError(f"target must be the name of a column (a str), got {describe(target)}")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise TypeError(f"delimiter must be a one-character str, got {describe(delimiter)}")
    header, rows, lines = read_csv_table(path, delimiter)
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
        X[:, j] = parse_floats(columns[j if j < t else j + 1], name, lines, path)
    cells = [cell.strip() for cell in columns[t]]
    y, classes, task = _csv_target(cells, task, target, lines, path)
    return file_dataset(path, X, y, task, classes, feature_names, target, f"column {target!r}")


def read_csv_table(
    path: Path, delimiter: str = ","
) -> tuple[list[str], list[list[str]], list[int]]:
    """The header's names, the data rows (lists of cells), and each row's line number."""
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


def parse_floats(cells, column: str, lines: list[int], path: Path) -> np.ndarray:
    """The cells of ``column`` as float64, or a ValueError naming the first that is not a finite
    number, by its line."""
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
