"""scikit-learn's stopping rule, as a callback of handgrad's ``fit``."""

from __future__ import annotations

import sys

import numpy as np

from ...train.run import Callback
from .params import Config


class NoImprovementRule(Callback):
    """scikit-learn's stopping rule, after each epoch (see the module docstring).

    ``monitor`` is ``"loss"`` (lower is better) or a validation score such as ``"val_accuracy"``
    (higher is better). ``best`` and ``count`` carry over from earlier calls (``partial_fit``);
    with ``can_stop=False`` the rule keeps its figures but never ends training.
    """

    def __init__(self, cfg: Config, monitor: str, best: float, count: int, can_stop: bool):
        self.tol = cfg.tol
        self.n_iter_no_change = cfg.n_iter_no_change
        self.verbose = cfg.verbose
        self.monitor = monitor
        self.best = best
        self.count = count
        self.can_stop = can_stop
        self.stopped = False
        self.scores: list[float] = []
        self.best_weights: list[np.ndarray] | None = None

    def on_epoch_end(self, run) -> None:
        value = float(run.logs[self.monitor])
        if self.monitor == "loss":
            self.count = self.count + 1 if value > self.best - self.tol else 0
            self.best = min(self.best, value)
        else:
            self.scores.append(value)
            self.count = self.count + 1 if value < self.best + self.tol else 0
            if value > self.best:
                self.best = value
                self.best_weights = [p.data.copy() for p in run.model.parameters()]
        if self.can_stop and self.count > self.n_iter_no_change:
            self.stopped = run.stop = True

    def on_train_end(self, run) -> None:
        if self.stopped and self.verbose:  # after the progress line of the last epoch
            what = "Training loss" if self.monitor == "loss" else "Validation score"
            print(
                f"{what} did not improve more than tol={self.tol} for "
                f"{self.n_iter_no_change} consecutive epochs. Stopping.",
                file=sys.stderr,
            )
        if self.best_weights is not None:
            for p, best in zip(run.model.parameters(), self.best_weights):
                p.data[...] = best
