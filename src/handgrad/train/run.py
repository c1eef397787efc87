"""One ``fit`` as its callbacks see it: the :class:`TrainingRun`, the :class:`Callback` protocol,
and the :class:`History` that ``fit`` returns.

``fit`` calls, for every callback in order: ``on_train_begin``; then per epoch
``on_epoch_begin``, ``on_batch_end`` after every optimizer step, ``on_epoch_end`` (``run.logs``
then holds the epoch's figures: ``loss``, the metrics, ``val_…``, ``lr``, ``time``); and finally
``on_train_end`` (or ``on_train_error`` if training stops with an exception, e.g.
``TrainingDiverged``). Each hook receives the :class:`TrainingRun`. Setting ``run.stop = True``
ends training after the current batch.

A callback that keeps state across epochs (a best value, a patience counter) returns it from
``state_dict()`` and takes it back in ``load_state_dict()``, so that a run resumed from a
checkpoint behaves exactly as if it had not stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _html
from ..nn.layer import Layer
from ..nn.losses import Loss
from ..optim.optimizer import Optimizer
from .figures import learning_curves_figure
from .metrics import Metric


def _cell(key: str, value: float) -> str:
    if key == "time":
        return f"{value:.2f}s"
    if key == "lr":
        return f"{value:.3g}"
    return f"{value:.4f}"


class Callback:
    """Base class; override the hooks you need.

    Two facts a callback says about itself, which the checkpoints and distributed training ask:
    ``in_checkpoint`` (its state is saved with a checkpoint, and a resumed run must have it
    again) and ``rank_zero_only`` (in distributed training only rank 0 runs it: printing,
    writing files).
    """

    #: Its state is saved with a checkpoint, and a run resumed from one must have it again.
    in_checkpoint: bool = True
    #: In distributed training, only rank 0 runs it.
    rank_zero_only: bool = False

    def on_train_begin(self, run: TrainingRun) -> None: ...

    def on_epoch_begin(self, run: TrainingRun) -> None: ...

    def on_batch_end(self, run: TrainingRun) -> None: ...

    def on_epoch_end(self, run: TrainingRun) -> None: ...

    def on_train_end(self, run: TrainingRun) -> None: ...

    def on_train_error(self, run: TrainingRun, error: BaseException) -> None:
        """Called instead of ``on_train_end`` when training stops with an exception."""

    def state_dict(self) -> dict[str, Any]:
        """State to carry across a resume: JSON values, arrays, or lists of arrays (none here)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""


class History(Callback):
    """What ``fit`` returns: the figures of every epoch.

    ``history["loss"][e]`` (or ``history.history["loss"][e]``, or ``history.loss[e]``) is the
    mean training loss over the samples of epoch ``e``, measured during the epoch's steps;
    ``val_loss``, metrics such as ``accuracy`` and ``val_accuracy``, ``lr`` and ``time`` (seconds)
    follow the same pattern.
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []

    def on_epoch_end(self, run: TrainingRun) -> None:
        self.epochs.append(run.epoch)
        for key, value in run.logs.items():
            self.history.setdefault(key, []).append(value)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "epochs": self.epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = {k: [float(v) for v in vals] for k, vals in state["history"].items()}
        self.epochs = [int(e) for e in state["epochs"]]

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __getattr__(self, key: str) -> list[float]:
        history = self.__dict__.get("history", {})
        if key in history:
            return history[key]
        raise AttributeError(f"History has no {key!r}; it has {sorted(history)}")

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.history.items()}
        return f"History(epochs={len(self.epochs)}, last={last})"

    def _table(self) -> tuple[list[str], list[list[str]]]:
        keys = list(self.history)
        rows = [
            [str(epoch + 1), *(_cell(key, self.history[key][k]) for key in keys)]
            for k, epoch in enumerate(self.epochs)
        ]
        return ["epoch", *keys], rows

    def _repr_html_(self) -> str:
        """Every epoch's figures as a table, for a notebook."""
        head, rows = self._table()
        body = f'<p class="hg-title">History, {len(self.epochs)} epochs</p>' + _html.table(
            head, rows, numeric=range(len(head))
        )
        return _html.fragment("hg-history", body)

    def _repr_markdown_(self) -> str:
        head, rows = self._table()
        return f"**History**, {len(self.epochs)} epochs\n\n" + _html.md_table(head, rows)

    def plot(self, title: str | None = None):
        """The learning curves (loss, and accuracy, R² or MAE) as a matplotlib figure, which a
        notebook shows inline (see :mod:`handgrad.train.figures`)."""
        return learning_curves_figure(self, title)


@dataclass
class TrainingRun:
    """The state of a ``fit`` call, as callbacks see it."""

    model: Layer
    loss: Loss
    optimizer: Optimizer
    epochs: int
    batch_size: int
    n_samples: int
    history: History
    rng: np.random.Generator
    metrics: list[Metric] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    has_validation: bool = False
    epoch: int = 0
    batch: int = 0
    batch_loss: float = float("nan")
    running_loss: float = float("nan")
    logs: dict[str, float] = field(default_factory=dict)
    stop: bool = False

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.n_samples // self.batch_size)

    def higher_is_better(self, key: str) -> bool:
        """Whether a larger value of the logged figure ``key`` is an improvement: the metric
        named so says (``accuracy``, ``val_r2``: yes); a loss is better lower."""
        name = key.removeprefix("val_")
        for m in self.metrics:
            if m.name == name:
                return bool(m.higher_is_better)
        return False
