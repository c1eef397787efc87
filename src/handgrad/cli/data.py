"""Data for the command line: what ``handgrad train`` learns from, and what a saved model reads.

A model trained by ``handgrad train`` carries in its file (``hg.load(path).metadata``) everything
needed to use it on new data, under these keys:

=================  ==============================================================================
``cli_format``     ``2``, the version of this layout (files of version 1 are read too)
``task``           ``"classification"`` or ``"regression"``
``loss``           ``"cross_entropy"``, ``"bce"`` or ``"mse"``
``classes``        the original labels, in the order of the network's outputs (classification)
``feature_names``  the network's inputs, in order (``colour=red`` for a category), or null
``columns``        how a CSV file's columns become the inputs, or null (an NPZ or a data set):
                   ``[{"name", "kind": "number", "fill"}, {"name", "kind": "categories",
                   "categories": [...]}, ...]``, learned on the training rows
``target_name``    the target column
``n_features``     the number of inputs
``standardize``    ``{"mean": [...], "scale": [...]}``: the network sees ``(x − mean) / scale``
``data``           the data set's name, or the data file's name
``training``       the hyper-parameters of the run
``results``        the loss and metrics on the training, validation and test rows
=================  ==============================================================================

Features are standardised with the mean and standard deviation of the training rows (never the
validation or test rows); a feature that is constant there gets scale 1. ``evaluate``, ``predict``
and ``trace`` apply the same ``(x − mean) / scale`` before the network sees a row.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..datasets.files import parse_floats, read_training_table
from ..datasets.table import (
    MISSING,
    ColumnCoding,
    Table,
    TableEncoder,
    is_number,
    read_header,
    read_table,
)

#: Version of the metadata layout above (2 added ``columns``); the versions this one reads.
CLI_FORMAT = 2
READS_FORMATS = (1, 2)
LOSSES = ("cross_entropy", "bce", "mse")
#: Rows standardised at a time, so a large data set is never held twice in float64.
_CHUNK_ROWS = 8192


# Standardisation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standardizer:
    """``x′ = (x − mean) / scale`` per feature, with ``mean`` and ``scale`` from training rows.

    ``scale`` is the standard deviation, except for a feature that is constant (its deviation is
    zero, or only the rounding noise of the mean, below ``1e-10·|mean|``): dividing by that would
    blow the noise up, so its scale is 1 and the feature becomes 0.
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        """The mean and deviation of each column, in float64, whatever their size: the columns
        are first divided by a power of two near their largest value (exactly, so no digit is
        lost), so that sums and squares of values near 1e300 never overflow."""
        peak = np.zeros(X.shape[1])
        for rows in _chunks(X):
            np.maximum(peak, np.abs(rows).max(axis=0, initial=0.0), out=peak)
        unit = np.ldexp(1.0, np.frexp(np.where(peak > 0, peak, 1.0))[1] - 1)  # peak / unit < 2
        total = np.zeros(X.shape[1])
        for rows in _chunks(X):
            total += (rows / unit).sum(axis=0)
        mean = total / len(X)
        squares = np.zeros(X.shape[1])
        for rows in _chunks(X):
            squares += ((rows / unit - mean) ** 2).sum(axis=0)
        std = np.sqrt(squares / len(X)) * unit
        mean = mean * unit
        constant = std <= 1e-10 * np.abs(mean)
        return cls(mean, np.where(constant, 1.0, std))

    def transform(self, X: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """A new array of ``dtype``; the arithmetic is done in float64."""
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            raise ValueError(
                f"the model takes {len(self.mean)} features per row, got data of shape {X.shape}"
            )
        out = np.empty(X.shape, dtype=dtype)
        with np.errstate(over="raise", invalid="raise"):
            try:
                for start in range(0, len(X), _CHUNK_ROWS):
                    rows = X[start : start + _CHUNK_ROWS].astype(np.float64)
                    out[start : start + _CHUNK_ROWS] = (rows - self.mean) / self.scale
            except FloatingPointError:
                raise ValueError(
                    f"the data are out of range for this model: standardised with the training "
                    f"rows' mean and scale, rows {start + 1} to {start + len(rows)} overflow "
                    f"{np.dtype(dtype)}"
                ) from None
        return out

    def to_json(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, value: Any, n_features: int, where: str) -> Standardizer:
        try:
            mean = np.asarray(value["mean"], dtype=np.float64)
            scale = np.asarray(value["scale"], dtype=np.float64)
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"{where}: 'standardize' must hold lists 'mean' and 'scale'") from exc
        if mean.shape != (n_features,) or scale.shape != (n_features,):
            raise ValueError(
                f"{where}: 'standardize' must hold {n_features} means and scales, got shapes "
                f"{mean.shape} and {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError(f"{where}: 'standardize' must hold finite means and positive scales")
        return cls(mean, scale)


def _chunks(X: np.ndarray):
    """``X`` in blocks of rows, as float64."""
    for start in range(0, len(X), _CHUNK_ROWS):
        yield X[start : start + _CHUNK_ROWS].astype(np.float64)


# Training data ---------------------------------------------------------------------------------

#: How the command line's options are named in the readers' messages.
CLI_SPELLING = {
    "delimiter": "--delimiter {!r}",
    "header": "--no-header",
    "ignore": "--ignore",
    "unknown": "--unknown-categories ignore",
}


@dataclass
class CsvOptions:
    """How a command reads its CSV files: ``--delimiter``, ``--no-header``."""

    delimiter: str = ","
    header: bool = True


@dataclass
class TrainingData:
    """What ``handgrad train`` learns from, before its features are chosen.

    Arrays (a built-in data set, an NPZ file) come as ``X``; a CSV file comes as its ``table``,
    whose encoding (categories, the fill of missing cells) is learned on the training rows only,
    once the validation rows are drawn (:meth:`features`).
    """

    name: str
    task: str
    classes: np.ndarray | None
    target_name: str
    y: np.ndarray
    X: np.ndarray | None = None
    feature_names: list[str] | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    table: Table | None = None
    notes: list[str] = field(default_factory=list)
    row_shape: tuple[int, ...] | None = None  # one sample as an image or a signal, if it is one

    def features(
        self, n: int, training_rows: np.ndarray | None
    ) -> tuple[np.ndarray, TableEncoder | None]:
        """The features of the first ``n`` rows, and the encoder learned on ``training_rows``
        (indices into them; all ``n`` when None), for a CSV file."""
        if self.table is None:
            return self.X[:n], None
        rows = np.arange(n) if training_rows is None else training_rows
        encoder = TableEncoder.fit(self.table, rows=rows, exclude=(self.target_name,))
        # A category that only validation rows have is all zeros, as at predict time with
        # --unknown-categories ignore: the network never saw it.
        X = encoder.transform(self.table, rows=np.arange(n), unknown="ignore")
        return X, encoder


def load_training_data(
    data: str | None,
    dataset: str | None,
    target: str | None,
    task: str,
    dtype: np.dtype,
    ignore: tuple[str, ...] = (),
    csv_options: CsvOptions | None = None,
) -> TrainingData:
    """The data ``handgrad train`` learns from: a built-in data set by name, or a CSV/NPZ file,
    without the columns named in ``ignore`` (e.g. an id; in a CSV file they are never parsed)."""
    if dataset is not None:
        if target is not None or task != "auto":
            raise ValueError(
                f"--target and --task are for DATA files; --dataset {dataset} has its own"
            )
        return _arrays(datasets.load(dataset, dtype=dtype), ignore)
    check_file(data, "DATA")
    suffix = Path(data).suffix.lower()
    if suffix == ".npz":
        return _arrays(datasets.load_npz(data, y=target or "y", task=task), ignore)
    if suffix != ".csv":
        raise ValueError(f"DATA must be a .csv or .npz file, got {data!r}")
    if target is None:
        raise ValueError(f"DATA {data!r} is a CSV file: name its target column with --target")
    options = csv_options or CsvOptions()
    table, y, classes, task, left_out = read_training_table(
        Path(data),
        target,
        task,
        delimiter=options.delimiter,
        header=options.header,
        ignore=ignore,
        spelling=CLI_SPELLING,
    )
    notes = []
    if left_out:
        notes.append(
            f"left out {left_out} row{'s' * (left_out != 1)} whose target {target!r} is missing"
        )
    return TrainingData(Path(data).stem, task, classes, target, y, table=table, notes=notes)


def _arrays(ds: datasets.Dataset, ignore: tuple[str, ...]) -> TrainingData:
    if ignore:
        ds = drop_features(ds, ignore)
    return TrainingData(
        ds.name,
        ds.task,
        ds.classes,
        ds.target_name,
        ds.y_train,
        X=ds.X_train,
        feature_names=ds.feature_names,
        X_test=ds.X_test,
        y_test=ds.y_test,
        row_shape=ds.row_shape,
    )


def drop_features(ds: datasets.Dataset, names: tuple[str, ...]) -> datasets.Dataset:
    """``ds`` without the feature columns ``names``."""
    if ds.feature_names is None:
        raise ValueError("--ignore needs named columns, and this data set's columns have no names")
    if ds.target_name in names:
        raise ValueError(f"--ignore: {ds.target_name!r} is the target, not a feature")
    unknown = [n for n in names if n not in ds.feature_names]
    if unknown:
        raise ValueError(
            f"--ignore: {', '.join(repr(n) for n in unknown)} is not a column; the features "
            f"are: {', '.join(ds.feature_names[:20])}{' …' if len(ds.feature_names) > 20 else ''}"
        )
    keep = [i for i, n in enumerate(ds.feature_names) if n not in names]
    if not keep:
        raise ValueError("--ignore leaves no feature to learn from")
    return replace(
        ds,
        X_train=ds.X_train[:, keep],
        X_test=None if ds.X_test is None else ds.X_test[:, keep],
        feature_names=[ds.feature_names[i] for i in keep],
        row_shape=None,  # a sample without some of its values is no longer an image
    )


def check_file(path: str, argument: str) -> None:
    """A readable file at ``path``, or FileNotFoundError naming ``argument``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{argument}: no such file {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{argument}: {path!r} is a folder, expected a file")


# What a saved model needs to know -------------------------------------------------------------


@dataclass(frozen=True)
class ModelCard:
    """The metadata ``handgrad train`` writes, checked, as the other commands use it."""

    task: str
    loss: str
    classes: list | None
    feature_names: list[str] | None
    target_name: str
    n_features: int
    standardizer: Standardizer
    raw: dict[str, Any]
    #: How a CSV file's columns become the inputs: from the file's ``columns`` (version 2), or
    #: its feature names read as numbers (version 1); None for unnamed features.
    encoder: TableEncoder | None = None

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], path: str) -> ModelCard:
        if "task" not in meta or "cli_format" not in meta:
            raise ValueError(
                f"MODEL {path!r} was not written by 'handgrad train': its metadata lacks the "
                "task, classes and standardisation the command line needs"
            )
        if meta["cli_format"] not in READS_FORMATS:
            raise ValueError(
                f"MODEL {path!r} has command-line metadata version {meta['cli_format']!r}; "
                f"this handgrad reads versions {', '.join(map(str, READS_FORMATS))}"
            )
        task, loss = meta.get("task"), meta.get("loss")
        if task not in datasets.TASKS or loss not in LOSSES:
            raise ValueError(f"MODEL {path!r}: unknown task {task!r} or loss {loss!r}")
        classes = meta.get("classes")
        if task == "classification" and not (isinstance(classes, list) and len(classes) >= 2):
            raise ValueError(f"MODEL {path!r}: a classifier's metadata must list its classes")
        n_features = meta.get("n_features")
        if type(n_features) is not int or n_features < 1:
            raise ValueError(f"MODEL {path!r}: 'n_features' must be a positive integer")
        names = meta.get("feature_names")
        if names is not None and not (
            isinstance(names, list)
            and len(names) == n_features
            and all(isinstance(n, str) for n in names)
        ):
            raise ValueError(f"MODEL {path!r}: 'feature_names' must name its {n_features} inputs")
        standardizer = Standardizer.from_json(meta.get("standardize"), n_features, path)
        target_name = str(meta.get("target_name", "target"))
        encoder = None
        if meta.get("columns") is not None:
            encoder = TableEncoder.from_json(meta["columns"], f"MODEL {path!r}")
            if encoder.feature_names != names:
                raise ValueError(f"MODEL {path!r}: 'columns' must give its 'feature_names'")
        elif names is not None:  # version 1: every input a column of numbers, none missing
            encoder = TableEncoder(tuple(ColumnCoding(n, "number") for n in names))
        return cls(task, loss, classes, names, target_name, n_features, standardizer, meta, encoder)


def label_lookup(classes: list) -> dict[tuple, int]:
    """A map from a label's key (see :func:`_value_key`) to its class index."""
    return {_value_key(c): i for i, c in enumerate(classes)}


def _value_key(value: Any) -> tuple:
    """Labels compare by kind and value: ``3``, ``3.0`` and ``"3"`` read from a CSV are one label;
    ``True`` is a boolean, never the number 1."""
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return ("number", float(value))
    return ("text", str(value))


def _text_keys(cell: str) -> list[tuple]:
    """The keys a CSV cell may stand for, most literal first."""
    keys = [("text", cell)]
    if cell.lower() in ("true", "false"):
        keys.append(("bool", cell.lower() == "true"))
    with contextlib.suppress(ValueError):
        keys.append(("number", float(cell)))
    return keys


def encode_labels(values: list, classes: list, where: str) -> np.ndarray:
    """Class indices of ``values`` (CSV cells as text, or array items) for a model's ``classes``."""
    lookup = label_lookup(classes)
    out = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        keys = _text_keys(value) if isinstance(value, str) else [_value_key(value)]
        index = next((lookup[k] for k in keys if k in lookup), None)
        if index is None:
            shown = ", ".join(repr(c) for c in classes[:12]) + (" …" if len(classes) > 12 else "")
            raise ValueError(
                f"{where}: label {value!r} (row {i + 1}) is not one of the model's classes: {shown}"
            )
        out[i] = index
    return out


# Data for a saved model ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelData:
    """Rows for a saved model: raw features, the encoded targets when the data have them, the
    columns to copy beside the predictions, and what was done to the rows."""

    X: np.ndarray
    y: np.ndarray | None
    description: str
    kept: dict[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def read_model_data(
    card: ModelCard,
    data: str | None,
    dataset: str | None,
    target: str | None,
    need_target: bool,
    read_target: bool = True,
    *,
    csv_options: CsvOptions | None = None,
    unknown: str = "error",
    keep: tuple[str, ...] = (),
) -> ModelData:
    """Rows for ``card``'s model from a data set's test part, or from a CSV or NPZ file.

    A CSV file's columns are read by name (in any order; other columns are ignored) and encoded
    as the training rows were (``unknown``: what a category the model never saw becomes); its
    target from ``target`` or else the model's target column, and rows whose target is missing
    are left out. An NPZ archive holds ``X`` and, optionally, ``y`` (or the array named
    ``target``). With ``read_target=False`` (``predict``) the target is never read, so a label
    the model never saw does not matter. ``keep`` names CSV columns returned as they are.
    """
    if keep and (data is None or Path(data).suffix.lower() != ".csv"):
        raise ValueError("--keep copies columns of a CSV file: give DATA as a .csv file")
    if dataset is not None:
        if data is not None:
            raise ValueError("give DATA or --dataset NAME, not both")
        return _dataset_test_part(card, dataset)
    if data is None:
        raise ValueError("give DATA (a .csv or .npz file) or --dataset NAME")
    check_file(data, "DATA")
    suffix = Path(data).suffix.lower()
    if suffix == ".csv":
        options = csv_options or CsvOptions()
        return _csv_rows(card, Path(data), target, need_target, read_target, options, unknown, keep)
    if suffix == ".npz":
        return _npz_rows(card, Path(data), target, need_target, read_target)
    raise ValueError(f"DATA must be a .csv or .npz file, got {data!r}")


def _dataset_test_part(card: ModelCard, name: str) -> ModelData:
    ds = datasets.load(name)
    if ds.X_test is None:
        raise ValueError(f"--dataset {name}: the data set has no test part")
    if ds.X_test.shape[1] != card.n_features:
        raise ValueError(
            f"--dataset {name} has {ds.X_test.shape[1]} features, the model takes {card.n_features}"
        )
    if card.task != ds.task or (card.classes is not None and ds.classes.tolist() != card.classes):
        raise ValueError(f"--dataset {name}: the model was trained for other targets or classes")
    return ModelData(ds.X_test, ds.y_test, f"{name}, test part ({len(ds.X_test)} rows)")


def _csv_rows(
    card: ModelCard,
    path: Path,
    target: str | None,
    need_target: bool,
    read_target: bool,
    options: CsvOptions,
    unknown: str,
    keep: tuple[str, ...],
    engine: str = "auto",
) -> ModelData:
    target = target or card.target_name
    header, _ = read_header(str(path), options.delimiter, options.header, CLI_SPELLING)
    encoder = card.encoder
    if encoder is None:  # unnamed features: every column but the target, in the file's order
        names = [n for n in header if n != target]
        if len(names) != card.n_features:
            raise ValueError(
                f"DATA {str(path)!r} has {len(names)} feature columns, the model takes "
                f"{card.n_features}"
            )
        encoder = TableEncoder(tuple(ColumnCoding(n, "number") for n in names))
    features = [c.name for c in encoder.columns]
    missing = [n for n in features if n not in header]
    if missing:
        shown = ", ".join(repr(n) for n in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise ValueError(
            f"DATA {str(path)!r} lacks {len(missing)} of the model's feature columns: {shown}"
        )
    absent = [n for n in keep if n not in header]
    if absent:
        raise ValueError(
            f"--keep: {', '.join(repr(n) for n in absent)} is not a column of DATA "
            f"{str(path)!r}; its columns are: {', '.join(header)}"
        )
    has_target = read_target and target in header
    if read_target and need_target and not has_target:
        raise ValueError(
            f"--target: DATA {str(path)!r} has no column {target!r}; its columns are: "
            f"{', '.join(header)}"
        )
    kinds = {**encoder.kinds, **{n: "raw" for n in keep}}
    if has_target:
        kinds[target] = "raw"
    table = read_table(
        path,
        delimiter=options.delimiter,
        header=options.header,
        kinds=kinds,
        columns=list(kinds),
        spelling=CLI_SPELLING,
        engine=engine,
    )
    rows, notes, y = None, [], None
    if has_target:
        cells = [c.strip() for c in table[target].values]
        present = np.array([c.lower() not in MISSING for c in cells], dtype=bool)
        if not present.all():
            rows = np.flatnonzero(present)
            gone = len(cells) - len(rows)
            notes.append(
                f"left out {gone} row{'s' * (gone != 1)} whose target {target!r} is missing"
            )
            cells = [cells[i] for i in rows]
        if card.task == "classification":
            y = encode_labels(cells, card.classes, f"{path}, column {target!r}")
        else:
            bad = not all(is_number(c) for c in cells)
            if bad and table.lines is None:  # the csv reader names the line
                return _csv_rows(
                    card, path, target, need_target, read_target, options, unknown, keep, "csv"
                )
            lines = (
                None
                if table.lines is None
                else table.lines[rows if rows is not None else slice(None)]
            )
            y = parse_floats(cells, target, lines, path)
    X = encoder.transform(table, rows=rows, unknown=unknown, spelling=CLI_SPELLING)
    kept = {n: table[n].values if rows is None else table[n].values[rows] for n in keep}
    return ModelData(X, y, f"{path.name} ({len(X)} rows)", kept, tuple(notes))


def _npz_rows(
    card: ModelCard, path: Path, target: str | None, need_target: bool, read_target: bool
) -> ModelData:
    with open(path, "rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"DATA {str(path)!r} is not an .npz archive ({exc})") from None
        if isinstance(archive, np.ndarray):
            raise ValueError(f"DATA {str(path)!r} holds one array; expected an .npz archive")
        with archive:
            if "X" not in archive.files:
                raise ValueError(f"DATA {str(path)!r} has no array 'X'; it holds {archive.files}")
            key = target or "y"
            try:
                X = archive["X"]
                y = archive[key] if read_target and key in archive.files else None
            except ValueError as exc:
                raise ValueError(f"DATA {str(path)!r}: {exc}") from None
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise ValueError(f"DATA {str(path)!r}: 'X' must be a 2-D array of numbers, got {X.shape}")
    if y is None:
        if need_target:
            raise ValueError(f"--target: DATA {str(path)!r} has no array {key!r}")
        return ModelData(X, None, f"{path.name} ({len(X)} rows)")
    if len(y) != len(X):
        raise ValueError(f"DATA {str(path)!r}: {key!r} must hold one target per row of 'X'")
    if card.task == "classification":
        y = encode_labels(y.tolist(), card.classes, f"{path}, array {key!r}")
    elif y.dtype.kind not in "biuf":
        raise ValueError(f"DATA {str(path)!r}: {key!r} must hold numbers for a regression model")
    return ModelData(X, y, f"{path.name} ({len(X)} rows)")


def parse_numbers(text: str, argument: str) -> np.ndarray:
    """``"1, 2.5,-3"`` as a float64 array; a ValueError names ``argument`` and the bad item."""
    items = [item.strip() for item in text.split(",")]
    values = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise ValueError(
                f"{argument}: expected comma-separated numbers, got {item!r} in {text!r}"
            ) from None
        if not np.isfinite(value):
            raise ValueError(f"{argument}: expected finite numbers, got {item!r}")
        values.append(value)
    return np.array(values)
