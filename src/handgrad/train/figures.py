"""The learning curves of a run as a matplotlib figure (``History.plot()``), and the figure every
handgrad plot is drawn on.

Figures are drawn with matplotlib's object interface on the Agg canvas (no window, no global
pyplot state), imported only when a figure is made: ``pip install 'handgrad[cli]'``. They display
themselves in a notebook: a figure is a PNG image there (``_repr_png_``), not
``<Figure size 1100x400 with 2 Axes>``.
"""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The metric drawn beside the loss, the first of these that the history holds.
CURVE_METRICS = ("accuracy", "r2", "mae")
_METRIC_TITLES = {"accuracy": "accuracy", "r2": "R²", "mae": "mean absolute error"}


@functools.cache
def _inline_figure_class() -> type:
    """``matplotlib.figure.Figure`` with a PNG display, made once matplotlib is imported."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("drawing figures needs matplotlib: pip install 'handgrad[cli]'") from exc

    class InlineFigure(Figure):
        """A figure that a notebook shows as a PNG image."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

    return InlineFigure


def matplotlib_figure(**kwargs: Any) -> Figure:
    """A new figure on an Agg canvas, laid out by matplotlib's constrained layout."""
    cls = _inline_figure_class()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = cls(layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def learning_curves_figure(history: Any, title: str | None = None) -> Figure:
    """The training and validation loss per epoch of a :class:`~handgrad.train.run.History`
    (``fit``'s) and, beside it, the first metric of
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
    fig = matplotlib_figure(figsize=(5.5 * len(panels), 4))
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
