"""Learning-rate schedules: callbacks that set ``optimizer.lr`` before each epoch or step."""

from __future__ import annotations

import math
from typing import Any

from .._validation import check_int, check_nonnegative, check_positive
from .run import Callback, TrainingRun


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
