"""The training loop, kept apart from the model: mini-batches, callbacks and the History.

One step of ``fit`` on a batch ``(X_b, y_b)``::

    P  = model.forward(X_b)                 forward, layer by layer
    L  = loss.forward(P, y_b)               the batch's mean loss
    dP = loss.backward()                    dL/dP
    model.backward_params(dP)               every parameter's .grad (no dL/dX for the data)
    optimizer.step()                        w ← update(w, .grad)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import as_input_array, check_int, describe, make_rng
from .losses import Loss
from .optimizers import Optimizer

if TYPE_CHECKING:
    from .model import Sequential


class Callback:
    """Hooks called by ``fit``; override the ones you need. Each receives the :class:`TrainingRun`.

    Order: ``on_train_begin``, then per epoch ``on_epoch_begin``, ``on_batch_end`` after every
    optimizer step, ``on_epoch_end`` (``run.logs`` then holds the epoch's figures), and finally
    ``on_train_end``. Setting ``run.stop = True`` ends training after the current batch.
    """

    def on_train_begin(self, run: TrainingRun) -> None: ...

    def on_epoch_begin(self, run: TrainingRun) -> None: ...

    def on_batch_end(self, run: TrainingRun) -> None: ...

    def on_epoch_end(self, run: TrainingRun) -> None: ...

    def on_train_end(self, run: TrainingRun) -> None: ...


class History(Callback):
    """What ``fit`` returns: the figures of every epoch.

    ``history.history["loss"][e]`` (or ``history["loss"][e]``, or ``history.loss[e]``) is the mean
    training loss over the samples of epoch ``e``, measured during the epoch's steps.
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []

    def on_epoch_end(self, run: TrainingRun) -> None:
        self.epochs.append(run.epoch)
        for key, value in run.logs.items():
            self.history.setdefault(key, []).append(value)

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


@dataclass
class TrainingRun:
    """The state of a ``fit`` call, as callbacks see it."""

    model: Sequential
    loss: Loss
    optimizer: Optimizer
    epochs: int
    batch_size: int
    n_samples: int
    history: History
    epoch: int = 0
    batch: int = 0
    batch_loss: float = float("nan")
    logs: dict[str, float] = field(default_factory=dict)
    stop: bool = False

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.n_samples // self.batch_size)


class BatchGatherer:
    """Copies the rows of a batch into buffers reused across steps.

    ``np.take(..., out=, mode="clip")`` gathers without allocating; ``mode="clip"`` skips the
    bounds check that makes the default mode slower than plain indexing (indices come from a
    permutation, so they are always in range). When the data's dtype is not the model's, rows are
    gathered as they are and converted batch by batch, so the dataset itself is never copied.
    """

    def __init__(self, X: np.ndarray, batch_size: int, dtype: np.dtype):
        self.X = X
        self._raw = np.empty((batch_size, *X.shape[1:]), dtype=X.dtype)
        self._cast = None if X.dtype == dtype else np.empty(self._raw.shape, dtype=dtype)

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        n = len(idx)
        raw = np.take(self.X, idx, axis=0, out=self._raw[:n], mode="clip")
        if self._cast is None:
            return raw
        cast = self._cast[:n]
        np.copyto(cast, raw, casting="unsafe")
        return cast


def fit(
    model: Sequential,
    X,
    y,
    *,
    loss: Loss,
    optimizer: Optimizer,
    epochs: int = 1,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batch gradient descent.

    Parameters
    ----------
    X : array (n_samples, n_features)
    y : array (n_samples, …)
        Targets in the form ``loss`` takes (class labels, one-hot rows, or values).
    loss : Loss
        E.g. ``hg.CrossEntropyLoss()``; it receives the network's raw outputs.
    optimizer : Optimizer
        Built from ``model.parameters()``.
    epochs, batch_size : int
        Passes over the data, and rows per step (the last batch of an epoch may be smaller).
    shuffle : bool
        Draw a new order of the rows every epoch.
    seed : int, Generator or None
        Source of the shuffling; the same seed (and the same initial weights) gives bit-identical
        weights after training.
    callbacks : list of Callback
        Called at the points described in :class:`Callback`.

    Returns
    -------
    History
        ``history["loss"]``: the mean training loss of each epoch.
    """
    X, y = _check_data(X, y)
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss such as hg.CrossEntropyLoss(), got {describe(loss)}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer such as hg.SGD, got {describe(optimizer)}")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False, got {describe(shuffle)}")
    rng = make_rng(seed, "seed")
    _check_optimizer_holds(model, optimizer)
    dtype = model.dtype
    y = loss.check_target(y, _output_shape(model, X), dtype)

    n = len(X)
    batch_size = min(batch_size, n)
    history = History()
    callbacks = [history, *callbacks]
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback objects, got {describe(cb)}")
    run = TrainingRun(model, loss, optimizer, epochs, batch_size, n, history)
    gather = BatchGatherer(X, batch_size, dtype)

    model.train()
    _notify(callbacks, "on_train_begin", run)
    for epoch in range(epochs):
        run.epoch = epoch
        run.logs = {}
        _notify(callbacks, "on_epoch_begin", run)
        order = rng.permutation(n) if shuffle else np.arange(n)
        total = 0.0
        seen = 0
        for batch, start in enumerate(range(0, n, batch_size)):
            run.batch = batch
            idx = order[start : start + batch_size]
            xb = gather(idx)
            yb = np.take(y, idx, axis=0)
            value = loss._forward(model._forward(xb), yb)
            model.backward_params(loss.backward())
            optimizer.step()
            total += value * len(idx)
            seen += len(idx)
            run.batch_loss = value
            _notify(callbacks, "on_batch_end", run)
            if run.stop:
                break
        run.logs["loss"] = total / seen
        _notify(callbacks, "on_epoch_end", run)
        if run.stop:
            break
    _notify(callbacks, "on_train_end", run)
    return history


def _notify(callbacks: list[Callback], hook: str, run: TrainingRun) -> None:
    for cb in callbacks:
        getattr(cb, hook)(run)


def _check_data(X, y) -> tuple[Any, np.ndarray]:
    X = as_input_array(X, "X", ndim=2)
    y = as_input_array(y, "y", finite=False)
    if y.ndim == 0:
        raise ValueError(f"y must have one target per row of X, got a scalar {y!r}")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(y)}")
    if len(X) == 0:
        raise ValueError("X is empty: fit needs at least one sample")
    return X, y


def _output_shape(model: Sequential, X: np.ndarray) -> tuple[int, ...]:
    """The model's output shape for a batch of X, from one row run in evaluation mode (which draws
    no random numbers). It also reports a wrong number of features before training starts."""
    was_training = model.training
    model.eval()
    try:
        return model._forward(X[:1]).shape
    finally:
        model.train(was_training)


def _check_optimizer_holds(model: Sequential, optimizer: Optimizer) -> None:
    held = {id(p) for p in optimizer.params}
    missing = [name for name, p in model.named_parameters() if id(p) not in held]
    if missing:
        raise ValueError(
            f"optimizer does not hold {len(missing)} of the model's parameters "
            f"({', '.join(missing)}); build it from model.parameters()"
        )
