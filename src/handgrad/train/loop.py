"""The training loop, kept apart from the model: mini-batches, validation, metrics, callbacks.

One step of ``fit`` on a batch ``(X_b, y_b)``::

    P  = model.forward(X_b)                 forward, layer by layer
    L  = loss.forward(P, y_b)               the batch's mean loss
    dP = loss.backward()                    dL/dP
    model.backward_params(dP)               every parameter's .grad (no dL/dX for the data)
    optimizer.step()                        w ← update(w, .grad)

The data are never copied: each batch's rows are gathered into a buffer reused across steps, and a
validation split is a set of row indices into the same array.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._threads import DEFAULT_THREADS, blas_threads, check_threads
from .._validation import (
    as_input_array,
    as_row_data,
    check_bool,
    check_int,
    check_positive,
    describe,
    make_rng,
    take_rows,
)
from ..datasets.splits import check_fraction, split_indices
from ..distributed.parallel import DataParallel
from ..errors import TrainingDiverged
from ..nn.layer import Layer, check_rows, chunk_rows
from ..nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss
from ..optim.optimizer import Optimizer
from .callbacks import ProgressBar
from .checkpoints import restore_checkpoint
from .metrics import Metric, check_metric_targets, make_metrics
from .run import Callback, History, TrainingRun

#: At most this many rows per forward pass when evaluating (no gradients are kept, so larger
#: batches are cheap); fewer when the network's arrays are large (``nn.layer.chunk_rows``).
EVAL_BATCH_SIZE = 1024


class BatchGatherer:
    """Copies the rows of a batch into buffers reused across steps.

    ``np.take(..., out=, mode="clip")`` gathers without allocating; ``mode="clip"`` skips the
    bounds check that makes the default mode slower than plain indexing (indices come from a
    permutation, so they are always in range). When the data's dtype is not the model's, rows are
    gathered as they are and converted batch by batch, so the dataset itself is never copied.
    """

    def __init__(self, X: np.ndarray, batch_size: int, dtype: np.dtype):
        self.X = X
        self._raw = np.empty((batch_size, *X.shape[1:]), dtype=np.dtype(X.dtype))
        self._cast = None if X.dtype == dtype else np.empty(self._raw.shape, dtype=dtype)

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        n = len(idx)
        raw = take_rows(self.X, idx, out=self._raw[:n])
        if self._cast is None:
            return raw
        cast = self._cast[:n]
        np.copyto(cast, raw, casting="unsafe")
        return cast


def fit(
    model: Layer,
    X,
    y,
    *,
    loss: Loss,
    optimizer: Optimizer,
    epochs: int = 1,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
    validation_data: tuple[Any, Any] | None = None,
    validation_split: float = 0.0,
    metrics: str | Sequence[str | Metric] | None = "auto",
    callbacks: Sequence[Callback] = (),
    verbose: int = 0,
    gradient_clip: float | None = None,
    resume_from: str | os.PathLike | None = None,
    distributed: Any = False,
    threads: int | None = DEFAULT_THREADS,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batch gradient descent.

    Parameters
    ----------
    X : array (n_samples, n_features), or (n_samples, …): images, sequences, batch first
    y : array (n_samples, …)
        Targets in the form ``loss`` takes (class labels, one-hot rows, or values).
    loss : Loss
        E.g. ``hg.CrossEntropyLoss()``; it receives the network's raw outputs.
    optimizer : Optimizer
        Built from ``model.parameters()``.
    epochs, batch_size : int
        Passes over the data, and rows per step (the last batch of an epoch may be smaller).
    shuffle : bool
        Draw a new order of the training rows every epoch.
    seed : int, Generator or None
        Source of the shuffling and of the validation split; the same seed (and the same initial
        weights) gives bit-identical weights after training.
    validation_data : (X_val, y_val), optional
        Data evaluated (in evaluation mode) after every epoch: ``val_loss`` and ``val_<metric>``.
    validation_split : float in [0, 1)
        Instead of ``validation_data``: this share of the rows, drawn at random with ``seed`` and
        stratified by class for classification losses, is held out for validation.
    metrics : "auto", None, or a list of names ("accuracy", "mae", "r2") or Metric objects
        "auto" is accuracy for classification losses and MAE and R² for ``MSELoss``.
    callbacks : list of Callback
        E.g. ``EarlyStopping``, a learning-rate schedule, ``Checkpoint``.
    verbose : 0, 1 or 2
        0 silent; 1 a progress bar per epoch (one line per epoch when the output is not a
        terminal); 2 one line per epoch.
    gradient_clip : float, optional
        Clip the global gradient norm to this value before each step (see
        ``Optimizer.clip_grad_norm``).
    resume_from : path, optional
        A checkpoint written by ``Checkpoint``: the weights, optimizer state, random state, history
        and callback state are restored and training continues after the checkpoint's epoch, so the
        final weights equal those of an uninterrupted run.
    distributed : False, True, an mpi4py communicator, or hg.distributed.ProcessGroup
        Data-parallel training over MPI (see :mod:`handgrad.distributed`): each rank passes its own
        shard as ``(X, y)`` (possibly empty) and ``validation_data``; ``batch_size`` is the global
        batch; every rank ends with the weights that one process would reach on all the rows.
        ``True`` is ``MPI.COMM_WORLD`` with the default timeout.
    threads : int or None, default 1
        Threads of the BLAS library's matrix products during training (threadpoolctl sets them
        for the call and puts them back after). One by default: a dense network's products are
        too small to gain much from more, and on a busy machine more threads wait for each other
        (``docs/performance.md``). None leaves the library's own setting. The same seed gives the
        same weights at the same thread count; another count may change the last bits.

    Returns
    -------
    History
        ``history["loss"]``, ``history["val_loss"]``, the metrics, ``lr`` and ``time`` per epoch.

    Raises
    ------
    TrainingDiverged
        When a step's loss or gradients become non-finite (NaN, or an overflow). Each step runs
        with NumPy raising on overflow and invalid operations, so the first non-finite value
        stops the step before the optimizer applies it: the model keeps its last finite weights,
        and no NumPy warning escapes.
    handgrad.distributed.CollectiveTimeoutError
        In distributed training, when another rank stopped answering.
    """
    parallel = distributed is not False and distributed is not None
    threads = check_threads(threads)
    X, y = _check_data(X, y, "X", "y", allow_empty=parallel)
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss such as hg.CrossEntropyLoss(), got {describe(loss)}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer such as hg.SGD, got {describe(optimizer)}")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    shuffle = check_bool(shuffle, "shuffle")
    verbose = check_int(verbose, "verbose", minimum=0)
    if verbose > 2:
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose}")
    rng = make_rng(seed, "seed")
    if gradient_clip is not None:
        gradient_clip = check_positive(gradient_clip, "gradient_clip")
    _check_optimizer_holds(model, optimizer)
    dtype = model.dtype
    y = loss.check_target(y, _output_shape(model, X), dtype)
    metric_objs = make_metrics(metrics, loss)
    check_metric_targets(metric_objs, loss, y)
    user_callbacks = list(callbacks)
    for cb in user_callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback objects, got {describe(cb)}")

    if parallel and validation_split:
        raise ValueError(
            "validation_split needs every row on one process; in distributed training pass each "
            "rank's share of the validation set as validation_data"
        )
    train_idx, validation = _validation(
        model, X, y, loss, validation_data, validation_split, rng, dtype, allow_empty=parallel
    )
    n = len(X) if train_idx is None else len(train_idx)
    dist = None
    if parallel:
        settings, outputs = _shared_settings(
            model, loss, optimizer, metric_objs, X, rng=rng, batch_size=batch_size,
            epochs=epochs, shuffle=shuffle, gradient_clip=gradient_clip,
            validation=validation is not None,
        )  # fmt: skip
        dist = DataParallel(distributed, len(X), rng, settings, outputs)
        n = dist.n_samples
    batch_size = min(batch_size, n)
    history = History()
    run = TrainingRun(model, loss, optimizer, epochs, batch_size, n, history, rng, metric_objs)
    run.has_validation = validation is not None
    run.callbacks = [history, *user_callbacks]
    if verbose:
        run.callbacks.append(ProgressBar(verbose))
    start_epoch, resume_error = 0, None
    if resume_from is not None:
        try:
            start_epoch = restore_checkpoint(resume_from, run)
        except Exception as exc:
            if dist is None:
                raise
            resume_error = exc  # every rank must hear of it before any raises
    if dist is not None:
        dist.start(run, start_epoch, resume_error)  # checks the ranks agree, broadcasts weights

    gather = BatchGatherer(X, batch_size, dtype)

    try:
        with model.mode(training=True), blas_threads(threads, refresh=True):
            _notify(run.callbacks, "on_train_begin", run)
            _train(
                run, start_epoch, gather, y, train_idx, shuffle, metric_objs, validation,
                gradient_clip, dist,
            )  # fmt: skip
            _notify(run.callbacks, "on_train_end", run)
    except BaseException as error:
        if dist is not None:
            dist.on_error(error)
        for cb in run.callbacks:
            cb.on_train_error(run, error)
        raise
    finally:
        if dist is not None:
            dist.finish()
    return history


def _train(run, start_epoch, gather, y, train_idx, shuffle, metric_objs, validation, clip, dist):
    """The epochs of ``fit``, from ``start_epoch``; ``dist`` (a ``DataParallel``) or None."""
    model, loss, optimizer, rng = run.model, run.loss, run.optimizer, run.rng
    n, batch_size = run.n_samples, run.batch_size
    forward, backward = model.forward, model.backward_params
    loss_forward, loss_backward, step = loss._forward, loss.backward, optimizer.step
    decay = optimizer.hyperparameters().get("weight_decay", 0.0)
    for epoch in range(start_epoch, run.epochs):
        run.epoch = epoch
        run.logs = {}
        started = time.perf_counter()
        _notify(run.callbacks, "on_epoch_begin", run)
        if train_idx is None:
            order = rng.permutation(n) if shuffle else np.arange(n)
        else:
            order = train_idx[rng.permutation(n)] if shuffle else train_idx
        for m in metric_objs:
            m.reset()
        total = 0.0
        seen = 0
        batches = _batches(order, batch_size) if dist is None else dist.batches(order, batch_size)
        for batch, idx in enumerate(batches):
            run.batch = batch
            yb = np.take(y, idx, axis=0)
            try:
                with np.errstate(over="raise", invalid="raise", divide="raise"):
                    if len(idx):  # a rank of a distributed run may hold no row of a batch
                        out = forward(gather(idx))
                        value = loss_forward(out, yb)
                        if not math.isfinite(value):
                            raise TrainingDiverged(
                                epoch, batch, f"the loss is {value}", optimizer.lr, decay
                            )
                        backward(loss_backward())
                    else:
                        dist.idle_step()  # its share of the batch statistics: zeros
                    if dist is not None:
                        dist.reduce_gradients(len(idx))  # Σ over ranks: the whole batch's
                    if clip is not None:
                        optimizer.clip_grad_norm(clip)
                    step()
            except (FloatingPointError, TrainingDiverged) as exc:
                if dist is not None:
                    dist.abandon_step()  # the other ranks are waiting for this step's gradient
                if isinstance(exc, TrainingDiverged):
                    raise
                raise TrainingDiverged(
                    epoch, batch, f"{exc} (a value overflowed or became NaN)", optimizer.lr, decay
                ) from None
            if len(idx):
                for m in metric_objs:
                    m.update(out, yb)
                total += value * len(idx)
                seen += len(idx)
                run.batch_loss = value
                run.running_loss = total / seen
            _notify(run.callbacks, "on_batch_end", run)
            if run.stop:
                break
        if dist is not None:
            total, seen = dist.combine(total, seen, metric_objs)
        run.logs["loss"] = total / seen
        run.logs.update({m.name: m.result() for m in metric_objs})
        if validation is not None:
            X_val, y_val = validation
            quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore")
            with model.mode(training=False), quiet:
                scores = _evaluate(model, X_val, y_val, loss, metric_objs, dist=dist)
            run.logs.update({f"val_{k}": v for k, v in scores.items()})
        run.logs["lr"] = optimizer.lr
        run.logs["time"] = time.perf_counter() - started
        _notify(run.callbacks, "on_epoch_end", run)
        if run.stop:
            break


def _batches(order: np.ndarray, batch_size: int):
    """Consecutive slices of ``batch_size`` indices (the last one may be shorter)."""
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def evaluate(
    model: Layer,
    X,
    y,
    *,
    loss: Loss,
    metrics: str | Sequence[str | Metric] | None = "auto",
    batch_size: int | None = None,
    threads: int | None = DEFAULT_THREADS,
) -> dict[str, float]:
    """The mean loss and the metrics of ``model`` on ``(X, y)``, in evaluation mode.

    Returns ``{"loss": …, "accuracy": …}`` (the metrics as in :func:`fit`). ``batch_size``, the
    rows per forward pass, defaults to at most 1024, fewer when the network's arrays are large.
    ``threads``: the BLAS threads, as in :func:`fit`.
    """
    threads = check_threads(threads)
    X, y = _check_data(X, y, "X", "y")
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss such as hg.CrossEntropyLoss(), got {describe(loss)}")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    y = loss.check_target(y, _output_shape(model, X), model.dtype)
    metric_objs = make_metrics(metrics, loss)
    check_metric_targets(metric_objs, loss, y)
    try:
        with model.mode(training=False), _out_of_range("X", model.dtype), blas_threads(threads):
            scores = _evaluate(model, X, y, loss, metric_objs, batch_size)
    finally:
        model.release()
    if not math.isfinite(scores["loss"]):  # BLAS products overflow without NumPy's signal
        raise ValueError(
            f"X is out of range for this network: its loss is {scores['loss']} (its values must "
            f"stay well within the range of {model.dtype})"
        )
    return scores


@contextlib.contextmanager
def _out_of_range(name: str, dtype: np.dtype):
    """NumPy raising on overflow and invalid values, each reported as a ValueError about
    ``name``'s values, so that no warning escapes and no infinity is returned."""
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield
    except FloatingPointError as exc:
        raise ValueError(
            f"{name} is out of range for this network: computing its outputs gave {exc} (its "
            f"values must stay well within the range of {dtype})"
        ) from None


def _evaluate(model, X, y, loss, metric_objs, batch_size=None, dist=None) -> dict[str, float]:
    """Loss and metrics over (X, y); X may be an (array, row indices) pair. With ``dist``, (X, y)
    is this rank's shard and the figures are those of all the shards. The caller sets the mode."""
    rows = None
    if isinstance(X, tuple):
        X, rows = X
    n = len(X) if rows is None else len(rows)
    if batch_size is None:
        first = X[:1] if rows is None else take_rows(X, rows[:1])
        batch_size = chunk_rows(model, np.asarray(first), EVAL_BATCH_SIZE) if n else 1
    for m in metric_objs:
        m.reset()
    total = 0.0
    for start in range(0, n, batch_size):
        if rows is None:
            xb, yb = np.asarray(X[start : start + batch_size]), y[start : start + batch_size]
        else:
            idx = rows[start : start + batch_size]
            xb, yb = take_rows(X, idx), np.take(y, idx, axis=0)
        out = model.forward(xb)
        total += loss._forward(out, yb) * len(xb)
        for m in metric_objs:
            m.update(out, yb)
    if dist is not None:
        total, n = dist.combine(total, n, metric_objs)
    return {"loss": total / n, **{m.name: m.result() for m in metric_objs}}


def _validation(
    model, X, y, loss, validation_data, validation_split, rng, dtype, allow_empty=False
):
    """``(train_idx or None, validation or None)``; validation is ``(X_val, y_val)`` where X_val
    may be ``(X, held_out_idx)`` so that a split never copies the data."""
    if validation_data is not None and validation_split:
        raise ValueError("give validation_data or validation_split, not both")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError(
                f"validation_data must be a pair (X_val, y_val), got {describe(validation_data)}"
            )
        X_val, y_val = validation_data
        X_val, y_val = _check_data(
            X_val, y_val, "validation_data X", "validation_data y", allow_empty=allow_empty
        )
        if X_val.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"validation_data X must have rows like X, shape (n, "
                f"{', '.join(map(str, X.shape[1:]))}), got {X_val.shape}"
            )
        shape = _output_shape(model, X_val, "validation_data X")
        return None, (X_val, loss.check_target(y_val, shape, dtype))
    if not validation_split:
        return None, None
    fraction = check_fraction(validation_split, "validation_split")
    if len(X) < 2:
        raise ValueError(f"validation_split needs at least 2 samples, got {len(X)}")
    keep, held = split_indices(len(X), fraction, rng, stratify=_strata(loss, y))
    return keep, ((X, held), y)


def _strata(loss: Loss, y: np.ndarray) -> np.ndarray | None:
    """Class labels to stratify a validation split by, for classification losses."""
    if isinstance(loss, CrossEntropyLoss):
        return y if y.ndim == 1 else y.argmax(axis=1)
    if isinstance(loss, BCEWithLogitsLoss) and y.shape[1] == 1:
        return y[:, 0] > 0.5
    return None


def _notify(callbacks: list[Callback], hook: str, run: TrainingRun) -> None:
    for cb in callbacks:
        getattr(cb, hook)(run)


def _check_data(
    X, y, x_name: str, y_name: str, allow_empty: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    X = as_row_data(X, x_name)
    y = as_input_array(y, y_name, finite=False)
    if y.ndim == 0:
        raise ValueError(f"{y_name} must have one target per row of {x_name}, got a scalar {y!r}")
    if len(X) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of rows, got {len(X)} and {len(y)}"
        )
    if len(X) == 0 and not allow_empty:
        raise ValueError(f"{x_name} is empty: it needs at least one sample")
    return X, y


def _output_shape(model: Layer, X: np.ndarray, name: str = "X") -> tuple[int, ...]:
    """The model's output shape for a batch of X, from one row run in evaluation mode (which draws
    no random numbers). It also reports a wrong number of features before training starts."""
    check_rows(model, X.shape, name)
    with model.mode(training=False), _out_of_range(name, model.dtype):
        return model.forward(np.asarray(X[:1])).shape


def _shared_settings(
    model: Layer, loss: Loss, optimizer: Optimizer, metrics: list[Metric], X: Any, **options: Any
) -> tuple[dict[str, Any], int]:
    """What every rank of a distributed ``fit`` must agree on, as JSON values, and the network's
    number of outputs."""
    outputs = _output_shape(model, X)[1]
    for m in metrics:
        if type(m).totals is Metric.totals:
            raise TypeError(
                "metrics: distributed training adds up the counts of accuracy, mae and r2 across "
                f"ranks, or of any metric with totals(); it cannot combine {m!r}"
            )
    settings = {
        "features": list(X.shape[1:]),
        "network": [[name, list(p.shape), str(p.dtype)] for name, p in model.named_parameters()]
        + [[name, list(a.shape), str(a.dtype), "state"] for name, a in model.named_state()],
        "loss": type(loss).__name__,
        "optimizer": [type(optimizer).__name__, optimizer.hyperparameters()],
        "metrics": [m.name for m in metrics],
        "generator": type(options.pop("rng").bit_generator).__name__,
        **options,
    }
    return settings, outputs


def _check_optimizer_holds(model: Layer, optimizer: Optimizer) -> None:
    """The optimizer must update exactly the model's parameters: missing ones would never learn,
    and others (another model's) would be changed by this model's steps."""
    held = {id(p) for p in optimizer.params}
    missing = [name for name, p in model.named_parameters() if id(p) not in held]
    if missing:
        raise ValueError(
            f"optimizer does not hold {len(missing)} of the model's parameters "
            f"({', '.join(missing)}); build it from model.parameters()"
        )
    own = {id(p) for p in model.parameters()}
    others = [p for p in optimizer.params if id(p) not in own]
    if others:
        shapes = ", ".join(str(p.shape) for p in others[:4]) + (" …" if len(others) > 4 else "")
        raise ValueError(
            f"optimizer holds {len(others)} parameters that are not the model's (shapes "
            f"{shapes}): fit would change them too, though they belong to another model; build "
            "the optimizer from model.parameters()"
        )
