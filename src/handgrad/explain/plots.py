"""Figures of a training run: learning curves and a confusion matrix.

Drawn with matplotlib's object interface on the Agg canvas (a PNG, no window, no global pyplot
state), imported only when a figure is made: ``pip install 'handgrad[cli]'``. Each ``*_figure``
function returns the ``matplotlib.figure.Figure``, so the plotted data can be read back from it;
:func:`save_png` writes one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import as_input_array, check_int, describe
from ..train.run import History

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The metric drawn beside the loss, the first of these that the history holds.
CURVE_METRICS = ("accuracy", "r2", "mae")
_METRIC_TITLES = {"accuracy": "accuracy", "r2": "R²", "mae": "mean absolute error"}
#: Beyond this many classes the cells of a confusion matrix are too small to print counts in.
MAX_ANNOTATED_CLASSES = 20


def _matplotlib_figure(**kwargs: Any) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("drawing figures needs matplotlib: pip install 'handgrad[cli]'") from exc
    fig = Figure(layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def learning_curves_figure(history: History, title: str | None = None) -> Figure:
    """The training and validation loss per epoch and, beside it, the first metric of
    :data:`CURVE_METRICS` the history holds (training and validation).

    The x axis counts epochs from 1; a run resumed from a checkpoint shows its earlier epochs too.
    In the axes, lines are in the order training, validation.
    """
    logs = getattr(history, "history", None)
    if not isinstance(logs, dict) or "loss" not in logs or not logs["loss"]:
        raise ValueError(f"history must be a History with at least one epoch, got {history!r}")
    epochs = np.asarray(history.epochs) + 1
    metric = next((m for m in CURVE_METRICS if m in logs), None)
    panels = [("loss", "loss")] + ([(metric, _METRIC_TITLES[metric])] if metric else [])
    fig = _matplotlib_figure(figsize=(5.5 * len(panels), 4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, label) in zip(axes, panels):
        ax.plot(epochs, logs[key], marker="o", markersize=3, label="training")
        if f"val_{key}" in logs:
            ax.plot(epochs, logs[f"val_{key}"], marker="o", markersize=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """``C[i, j]``: how many samples of true class ``i`` were predicted as class ``j``.

    ``y_true`` and ``y_pred`` are class indices ``0 … n_classes − 1`` of the same length; the
    diagonal holds the correct predictions, so ``trace(C) / C.sum()`` is the accuracy.
    """
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    y_true = as_input_array(y_true, "y_true", ndim=1)
    y_pred = as_input_array(y_pred, "y_pred", ndim=1)
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}"
        )
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= n_classes)):
            raise ValueError(f"{name} must hold class indices 0 … {n_classes - 1}, got {y!r:.60}")
    # Each (true, predicted) pair is one cell of the flattened matrix.
    counts = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def confusion_figure(matrix: Any, classes: Sequence, title: str | None = None) -> Figure:
    """The confusion matrix as an image: true classes down, predicted classes across, the count
    in each cell (up to :data:`MAX_ANNOTATED_CLASSES` classes), and the accuracy in the title."""
    matrix = as_input_array(matrix, "matrix", ndim=2)
    k = len(classes)
    if matrix.shape != (k, k):
        raise ValueError(f"matrix must be ({k}, {k}) for {k} classes, got {describe(matrix)}")
    total = matrix.sum()
    accuracy = np.trace(matrix) / total if total else float("nan")
    side = min(max(4.0, 0.5 * k + 2), 14.0)
    fig = _matplotlib_figure(figsize=(side + 1, side))
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues", interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8)
    labels = [_short(c) for c in classes]
    slanted = k > 5 and max(len(label) for label in labels) > 3  # long names would overlap
    ax.set_xticks(
        range(k), labels, rotation=45 if slanted else 0, ha="right" if slanted else "center"
    )
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= MAX_ANNOTATED_CLASSES:
        high = matrix.max() / 2 if total else 0
        for i in range(k):
            for j in range(k):
                colour = "white" if matrix[i, j] > high else "black"
                ax.text(j, i, f"{matrix[i, j]:g}", ha="center", va="center", color=colour)
    heading = f"accuracy {accuracy:.2%} on {int(total)} samples"
    ax.set_title(f"{title}\n{heading}" if title else heading)
    return fig


def _short(label: Any, width: int = 14) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def save_png(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> None:
    """Write ``fig`` to ``path`` as a PNG image; the folder must exist."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    fig.savefig(path, format="png", dpi=check_int(dpi, "dpi", minimum=1))
