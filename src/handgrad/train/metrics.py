"""Metrics: figures of merit accumulated over the batches of an epoch.

A metric sees the network's raw outputs (logits for classifiers) and the target in the form the
loss uses, batch by batch, and gives one number for all the samples it saw::

    metric.reset(); for each batch: metric.update(pred, target); value = metric.result()

==============  =====================================================  ======================
name            value                                                  better
==============  =====================================================  ======================
``accuracy``    share of rows whose predicted class is the true one    higher
``mae``         mean |p − a| over all elements                        lower
``r2``          1 − Σ(a − p)² / Σ(a − ā)², per output, then averaged    higher (1 is perfect)
==============  =====================================================  ======================

Accuracy takes the argmax of the logits for softmax classifiers (integer labels or one-hot
targets) and ``logit > 0`` (that is, σ(logit) > ½) against ``target > ½`` for binary ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss


class Metric:
    """Base class: ``reset``, ``update(pred, target)`` per batch, ``result()``.

    For distributed training a metric also gives the running sums its result is computed from,
    ``totals(n_outputs)``, and takes back their sums over every rank, ``load_totals``; a metric
    without them (``totals`` returns None) cannot be combined across ranks.
    """

    name = "metric"
    #: Whether a larger value is better (for early stopping and checkpoints).
    higher_is_better = True

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def totals(self, n_outputs: int) -> np.ndarray | None:
        """The running sums ``result`` is computed from, as one float64 vector whose length
        depends on ``n_outputs`` alone (the same on every rank), or None."""
        return None

    def load_totals(self, totals: np.ndarray) -> None:
        """Take back sums of what ``totals`` gave (over every rank)."""
        raise NotImplementedError(f"{type(self).__name__} has no totals to load")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Accuracy(Metric):
    """Share of correctly classified rows, or of elements for independent binary outputs.

    ``binary=True`` (what ``BCEWithLogitsLoss`` trains) compares ``logit > 0`` with
    ``target > ½`` element by element; otherwise each row's predicted class is the argmax of its
    logits. ``binary=None`` decides by the shape: one output column is binary.
    """

    name = "accuracy"

    def __init__(self, binary: bool | None = None):
        self.binary = binary

    def reset(self) -> None:
        self._correct = 0
        self._count = 0

    def update(self, pred, target) -> None:
        binary = pred.shape[1] == 1 if self.binary is None else self.binary
        if binary:
            hits = (pred > 0) == (target.reshape(pred.shape) > 0.5)
        else:
            labels = target if target.ndim == 1 else target.argmax(axis=1)
            hits = pred.argmax(axis=1) == labels
        self._correct += int(np.count_nonzero(hits))
        self._count += hits.size

    def result(self) -> float:
        return self._correct / self._count if self._count else float("nan")

    def totals(self, n_outputs):
        return np.array([self._correct, self._count], dtype=np.float64)

    def load_totals(self, totals):
        self._correct, self._count = round(totals[0]), round(totals[1])


class MeanAbsoluteError(Metric):
    """``1/N · Σ |p − a|`` over all N elements."""

    name = "mae"
    higher_is_better = False

    def reset(self) -> None:
        self._total = 0.0
        self._count = 0

    def update(self, pred, target) -> None:
        self._total += float(np.abs(pred - target.reshape(pred.shape)).sum())
        self._count += pred.size

    def result(self) -> float:
        return self._total / self._count if self._count else float("nan")

    def totals(self, n_outputs):
        return np.array([self._total, self._count], dtype=np.float64)

    def load_totals(self, totals):
        self._total, self._count = float(totals[0]), round(totals[1])


class R2Score(Metric):
    """Coefficient of determination ``1 − SSE/SST`` for each output column, averaged over them.

    Accumulated from running sums, ``SST = Σa² − (Σa)²/n``, so it needs one pass over the data.
    A column whose targets are all equal has SST = 0; its score is 1 if predicted exactly, else 0,
    as scikit-learn does.
    """

    name = "r2"

    def reset(self) -> None:
        self._n = 0
        self._sse = self._sum = self._sum_sq = 0.0

    def update(self, pred, target) -> None:
        target = target.reshape(pred.shape).astype(np.float64)
        self._n += len(pred)
        self._sse = self._sse + ((pred - target) ** 2).sum(axis=0)
        self._sum = self._sum + target.sum(axis=0)
        self._sum_sq = self._sum_sq + (target**2).sum(axis=0)

    def result(self) -> float:
        if not self._n:
            return float("nan")
        sse = np.atleast_1d(self._sse)
        sst = np.atleast_1d(self._sum_sq - self._sum**2 / self._n)
        scale = np.maximum(np.abs(self._sum_sq), 1.0)
        constant = sst <= 1e-12 * scale  # rounding can leave a tiny SST for equal targets
        scores = np.where(
            constant, (sse <= 1e-12 * scale).astype(float), 1 - sse / np.where(constant, 1, sst)
        )
        return float(scores.mean())

    def totals(self, n_outputs):
        # The row count, then Σ(a − p)², Σa and Σa² per output (scalars before any update).
        columns = [
            np.broadcast_to(np.asarray(v, np.float64), (n_outputs,))
            for v in (self._sse, self._sum, self._sum_sq)
        ]
        return np.concatenate([[self._n], *columns])

    def load_totals(self, totals):
        self._n = round(totals[0])
        self._sse, self._sum, self._sum_sq = (totals[1:].reshape(3, -1)[i].copy() for i in range(3))


METRICS = {"accuracy": Accuracy, "mae": MeanAbsoluteError, "r2": R2Score}


def default_metrics(loss: Loss) -> list[str]:
    """Accuracy for classification losses; MAE and R² for regression."""
    if isinstance(loss, (CrossEntropyLoss, BCEWithLogitsLoss)):
        return ["accuracy"]
    return ["mae", "r2"]


def check_metric_targets(metrics: Sequence[Metric], loss: Loss, y: np.ndarray) -> None:
    """Refuse accuracy on ``MSELoss`` targets that are not classes: it would count ``p > 0``
    against ``a > ½`` (or argmaxes) of arbitrary numbers, and mean nothing. On 0/1 targets (one-hot
    rows, trained with squared error) it is meaningful; other losses say what their targets are."""
    if not isinstance(loss, MSELoss):
        return
    if not any(isinstance(m, Accuracy) for m in metrics):
        return
    classes = (y == 0) | (y == 1)
    if not classes.all():
        value = float(y[~classes].flat[0])
        raise ValueError(
            f"metrics: accuracy counts correct classes, but the targets of {type(loss).__name__} "
            f"are numbers, not classes (such as {value:g}); use 'mae' or 'r2', or a "
            "classification loss"
        )


def make_metrics(metrics: str | Sequence[str | Metric] | None, loss: Loss) -> list[Metric]:
    """Metric objects from ``"auto"`` (by the loss), ``None``/``()`` (none), or names/objects."""
    if metrics is None:
        return []
    if isinstance(metrics, str):
        metrics = default_metrics(loss) if metrics == "auto" else [metrics]
    out = []
    for m in metrics:
        if isinstance(m, Metric):
            out.append(m)
        elif m == "accuracy":
            out.append(Accuracy(binary=True if isinstance(loss, BCEWithLogitsLoss) else None))
        elif isinstance(m, str) and m in METRICS:
            out.append(METRICS[m]())
        else:
            raise ValueError(
                f"metrics must be 'auto', None, or a list of {sorted(METRICS)} or Metric objects, "
                f"got {m!r}"
            )
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"metrics must not repeat a name, got {names}")
    return out
