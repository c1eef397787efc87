"""Callbacks: code that ``fit`` calls at fixed points of training.

``fit`` calls, for every callback in order: ``on_train_begin``; then per epoch
``on_epoch_begin``, ``on_batch_end`` after every optimizer step, ``on_epoch_end`` (``run.logs``
then holds the epoch's figures: ``loss``, the metrics, ``val_…``, ``lr``, ``time``); and finally
``on_train_end`` (or ``on_train_error`` if training stops with an exception, e.g.
``TrainingDiverged``). Each hook receives the :class:`~handgrad.training.TrainingRun`. Setting
``run.stop = True`` ends training after the current batch.

A callback that keeps state across epochs (a best value, a patience counter) returns it from
``state_dict()`` and takes it back in ``load_state_dict()``, so that a run resumed from a
checkpoint behaves exactly as if it had not stopped.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ._validation import check_int, check_nonnegative, check_positive

if TYPE_CHECKING:
    from .training import TrainingRun


class Callback:
    """Base class; override the hooks you need."""

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


def higher_is_better(name: str) -> bool:
    """Whether a larger value of the logged figure ``name`` is an improvement."""
    base = name.removeprefix("val_")
    return base in ("accuracy", "r2")


class EarlyStopping(Callback):
    """Stop when the monitored figure has not improved for ``patience`` epochs.

    An epoch improves on the best so far when it is better by more than ``min_delta``
    (lower for losses and MAE, higher for accuracy and R²). With ``restore_best_weights`` the
    model ends with the weights of its best epoch, whether training stopped early or ran out of
    epochs.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs; ``"val_loss"`` by default, ``"loss"`` when there is no validation.
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best_weights : bool
        End with the best epoch's weights.
    """

    def __init__(
        self,
        monitor: str | None = None,
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
    ):
        if monitor is not None and not isinstance(monitor, str):
            raise TypeError(f"monitor must be the name of a logged figure, got {monitor!r}")
        self.monitor = monitor
        self.patience = check_int(patience, "patience", minimum=0)
        self.min_delta = check_nonnegative(min_delta, "min_delta")
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, run: TrainingRun) -> None:
        if self.monitor is None:
            self.monitor = "val_loss" if run.has_validation else "loss"
        if self.monitor.startswith("val_") and not run.has_validation:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, but fit has no validation data; "
                "pass validation_data= or validation_split=, or monitor 'loss'"
            )

    def on_epoch_end(self, run: TrainingRun) -> None:
        if self.monitor not in run.logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which fit does not log; "
                f"it logs {sorted(run.logs)}"
            )
        value = run.logs[self.monitor]
        sign = -1.0 if higher_is_better(self.monitor) else 1.0
        if self.best is None or sign * (value - self.best) < -self.min_delta:
            self.best, self.best_epoch, self.wait = value, run.epoch, 0
            if self.restore_best_weights:
                self._best_weights = [p.data.copy() for p in run.model.parameters()]
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = run.epoch
                run.stop = True

    def on_train_end(self, run: TrainingRun) -> None:
        if self.restore_best_weights and self._best_weights is not None:
            for p, best in zip(run.model.parameters(), self._best_weights):
                p.data[...] = best

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "best_weights": self._best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.wait = int(state["wait"])
        weights = state.get("best_weights")
        self._best_weights = None if weights is None else [np.array(w) for w in weights]


class LRSchedule(Callback):
    """Base class of learning-rate schedules: sets ``optimizer.lr = lr_at(t)`` before each epoch
    (``per="epoch"``, t = epoch index) or before each step (``per="batch"``, t = step index),
    from the learning rate the optimizer had when training began (``base_lr``)."""

    def __init__(self, per: str = "epoch"):
        if per not in ("epoch", "batch"):
            raise ValueError(f"per must be 'epoch' or 'batch', got {per!r}")
        self.per = per
        self.base_lr: float | None = None

    def lr_at(self, t: int) -> float:
        raise NotImplementedError

    def on_train_begin(self, run: TrainingRun) -> None:
        if self.base_lr is None:
            self.base_lr = run.optimizer.lr
        if self.per == "batch":
            run.optimizer.lr = self.lr_at(run.epoch * run.batches_per_epoch)

    def on_epoch_begin(self, run: TrainingRun) -> None:
        if self.per == "epoch":
            run.optimizer.lr = self.lr_at(run.epoch)

    def on_batch_end(self, run: TrainingRun) -> None:
        if self.per == "batch":
            run.optimizer.lr = self.lr_at(run.epoch * run.batches_per_epoch + run.batch + 1)

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr = state["base_lr"]


class StepLR(LRSchedule):
    """``lr_t = base_lr · γ^⌊t / step_size⌋``: times γ every ``step_size`` epochs (or steps)."""

    def __init__(self, step_size: int, gamma: float = 0.1, per: str = "epoch"):
        super().__init__(per)
        self.step_size = check_int(step_size, "step_size", minimum=1)
        self.gamma = check_positive(gamma, "gamma")

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRSchedule):
    """``lr_t = base_lr · γ^t``."""

    def __init__(self, gamma: float, per: str = "epoch"):
        super().__init__(per)
        self.gamma = check_positive(gamma, "gamma")

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma**t


class CosineLR(LRSchedule):
    """``lr_t = min_lr + ½ (base_lr − min_lr)(1 + cos(π · min(t, T) / T))``: from ``base_lr`` down
    to ``min_lr`` along half a cosine over ``T = total`` epochs (or steps), then ``min_lr``."""

    def __init__(self, total: int, min_lr: float = 0.0, per: str = "epoch"):
        super().__init__(per)
        self.total = check_int(total, "total", minimum=1)
        self.min_lr = check_nonnegative(min_lr, "min_lr")

    def lr_at(self, t: int) -> float:
        progress = min(t, self.total) / self.total
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress))


class WarmupLR(LRSchedule):
    """Linear warm-up: ``lr_t = base_lr · (t + 1) / warmup`` for ``t < warmup``; afterwards
    ``then.lr_at(t − warmup)`` if another schedule is given (sharing ``base_lr``), else ``base_lr``.
    """

    def __init__(self, warmup: int, then: LRSchedule | None = None, per: str = "epoch"):
        super().__init__(per)
        self.warmup = check_int(warmup, "warmup", minimum=1)
        if then is not None and not isinstance(then, LRSchedule):
            raise TypeError(f"then must be a learning-rate schedule, got {then!r}")
        self.then = then

    def lr_at(self, t: int) -> float:
        if t < self.warmup:
            return self.base_lr * (t + 1) / self.warmup
        if self.then is None:
            return self.base_lr
        self.then.base_lr = self.base_lr
        return self.then.lr_at(t - self.warmup)


class Checkpoint(Callback):
    """Write a checkpoint (weights, optimizer state, epoch, random state, history) at the end of
    every ``every``-th epoch, atomically, so that ``fit(..., resume_from=path)`` continues the run
    bit-identically. With ``save_best_only``, only epochs that improve ``monitor`` are written.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        every: int = 1,
        save_best_only: bool = False,
        monitor: str | None = None,
    ):
        self.path = os.fspath(path)
        self.every = check_int(every, "every", minimum=1)
        self.save_best_only = bool(save_best_only)
        self.monitor = monitor
        self.best: float | None = None

    def on_train_begin(self, run: TrainingRun) -> None:
        if self.monitor is None:
            self.monitor = "val_loss" if run.has_validation else "loss"

    def on_epoch_end(self, run: TrainingRun) -> None:
        if (run.epoch + 1) % self.every:
            return
        if self.save_best_only:
            value = run.logs.get(self.monitor)
            if value is None:
                raise ValueError(f"Checkpoint monitors {self.monitor!r}, which fit does not log")
            sign = -1.0 if higher_is_better(self.monitor) else 1.0
            if self.best is not None and sign * (value - self.best) >= 0:
                return
            self.best = value
        from .io import save_checkpoint

        save_checkpoint(self.path, run)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


class ProgressBar(Callback):
    """Progress on a stream (standard error by default).

    ``verbose=1``: a bar per epoch with the running loss and time left (tqdm), when the stream is
    a terminal and tqdm is installed; otherwise, and with ``verbose=2``, one line per epoch. Nothing
    is animated when the output is a file or a pipe.
    """

    def __init__(self, verbose: int = 1, stream: IO[str] | None = None):
        self.verbose = check_int(verbose, "verbose", minimum=1)
        self.stream = stream
        self._bar = None

    def _out(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stderr

    def _animated(self) -> bool:
        if self.verbose != 1:
            return False
        isatty = getattr(self._out(), "isatty", None)
        if not (isatty and isatty()):
            return False
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return False
        return True

    def on_epoch_begin(self, run: TrainingRun) -> None:
        self._start = time.perf_counter()
        if self._animated():
            from tqdm import tqdm

            # A terminal that reports no width (a fresh pseudo-terminal) gets 80 columns.
            width = shutil.get_terminal_size((80, 24)).columns
            self._bar = tqdm(
                total=run.batches_per_epoch,
                desc=f"epoch {run.epoch + 1}/{run.epochs}",
                unit="batch",
                file=self._out(),
                leave=True,
                dynamic_ncols=width > 0,
                ncols=None if width > 0 else 80,
            )

    def on_batch_end(self, run: TrainingRun) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if run.batch % 10 == 0 or run.batch + 1 == run.batches_per_epoch:
                self._bar.set_postfix(loss=f"{run.running_loss:.4f}", refresh=False)

    def on_epoch_end(self, run: TrainingRun) -> None:
        line = format_logs(run.logs)
        if self._bar is not None:
            self._bar.set_postfix_str(line, refresh=True)
            self._bar.close()
            self._bar = None
        else:
            print(f"epoch {run.epoch + 1}/{run.epochs} - {line}", file=self._out(), flush=True)

    def on_train_end(self, run: TrainingRun) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_train_error(self, run: TrainingRun, error: BaseException) -> None:
        self.on_train_end(run)


def format_logs(logs: dict[str, float]) -> str:
    """``loss 0.1234 - accuracy 0.9500 - … - 1.2s`` for an epoch's logs."""
    parts = []
    for key, value in logs.items():
        if key == "time":
            continue
        if key == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{key} {value:.4f}")
    if "time" in logs:
        parts.append(f"{logs['time']:.1f}s")
    return " - ".join(parts)
