"""The :class:`Dataset`: features and targets split into a training and a test part, ready for
``model.fit``, and the helpers its loaders share."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import describe

TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A data set: features and targets, split into a training part and (when there is one) a test
    part, with what is needed to read them.

    Attributes
    ----------
    name : str
    X_train : array (n_train, n_features), or (n_train, *row_shape) for images
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
    encoder : TableEncoder or None
        For a CSV file (:func:`load_csv`), what turned its columns into ``X_train`` (one-hot text
        columns, the fill of missing cells): ``encoder.read_csv(path)`` encodes another file's
        rows the same way. None for the other sources, whose arrays are used as they are.
    row_shape : tuple of int, or None
        The shape of one sample as an image or a signal, channels last (``(28, 28, 1)`` for
        Fashion-MNIST, ``(40, 1)`` for MNIST-1D), whether ``X`` holds its rows so or flat; None
        for data that are only features.
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
    encoder: Any = None
    row_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        _check_part(self.X_train, self.y_train, "X_train", "y_train")
        if (self.X_test is None) != (self.y_test is None):
            raise ValueError("X_test and y_test must both be arrays or both be None")
        n_features = self.n_features
        if self.X_test is not None:
            _check_part(self.X_test, self.y_test, "X_test", "y_test")
            if self.X_test.shape[1:] != self.X_train.shape[1:]:
                raise ValueError(
                    f"X_test must have rows like X_train's, shape (n, "
                    f"{', '.join(map(str, self.X_train.shape[1:]))}), got {self.X_test.shape}"
                )
        if self.row_shape is not None and math.prod(self.row_shape) != n_features:
            raise ValueError(
                f"row_shape {self.row_shape} must hold the {n_features} features of a row"
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

    @property
    def n_features(self) -> int:
        """The number of values in one row (``28·28·1 = 784`` for an image)."""
        return math.prod(self.X_train.shape[1:])

    def __repr__(self) -> str:
        test = "no test part" if self.X_test is None else f"X_test {_shape(self.X_test)}"
        kind = "regression" if self.classes is None else f"{len(self.classes)} classes"
        return f"Dataset({self.name!r}, {kind}, X_train {_shape(self.X_train)}, {test})"


def _shape(X: np.ndarray) -> str:
    return f"{X.shape} {X.dtype}"


def _check_part(X: Any, y: Any, x_name: str, y_name: str) -> None:
    if not isinstance(X, np.ndarray) or X.ndim < 2:
        raise ValueError(
            f"{x_name} must be an array (samples, features) or (samples, …), got {describe(X)}"
        )
    if not isinstance(y, np.ndarray) or y.ndim not in (1, 2) or len(y) != len(X):
        raise ValueError(
            f"{y_name} must be an array with one target per row of {x_name} ({len(X)} rows), "
            f"got {describe(y)}"
        )


def encode_labels(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels encoded as ``0 … k−1`` and the sorted original values, ``classes[y] == values``."""
    classes, y = np.unique(values, return_inverse=True)
    return y.reshape(len(values)).astype(np.int64), classes


def check_task(task: Any) -> str:
    if task not in ("auto", *TASKS):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    return task


def fspath(path: Any, name: str) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a str or os.PathLike, got {describe(path)}") from None


def file_dataset(
    path, X, y, task, classes, feature_names, target_name, what, encoder=None, notes=""
) -> Dataset:
    """The Dataset of a file read whole: no test part, named after the file."""
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
            f"Read from {path} ({what}): {X.shape[0]} samples of {X.shape[1]} features, "
            f"{kind}.{notes}"
        ),
        encoder=encoder,
    )
