"""Figures of a training run: learning curves and a confusion matrix.

The learning curves are :mod:`handgrad.train.figures`' (``History.plot()`` draws them too),
re-exported here. Drawn with matplotlib's object interface on the Agg canvas (a PNG, no window,
no global pyplot state), imported only when a figure is made: ``pip install 'handgrad[cli]'``.
Each ``*_figure`` function returns the ``matplotlib.figure.Figure``, which a notebook shows
inline, so the plotted data can be read back from it; :func:`save_png` writes one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import as_input_array, check_int, describe
from ..train.figures import CURVE_METRICS, learning_curves_figure, matplotlib_figure

__all__ = [
    "CURVE_METRICS",
    "confusion_figure",
    "confusion_matrix",
    "learning_curves_figure",
    "save_png",
]

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Beyond this many classes the cells of a confusion matrix are too small to print counts in.
MAX_ANNOTATED_CLASSES = 20


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
    fig = matplotlib_figure(figsize=(side + 1, side))
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
