"""handgrad through its ordinary user path: ``hg.Sequential``, ``model.fit``, ``model.predict``.

Each call passes ``threads=`` the count the harness gave the process (``OPENBLAS_NUM_THREADS``),
as a user would pass ``threads=2``: by default ``fit`` and ``predict`` run on one thread.
"""

from __future__ import annotations

import inspect
import itertools
import os
import time
from functools import partial

import numpy as np

import handgrad as hg

from ..timing import current_rss_bytes, summary, time_calls
from ..workload import Work, initial_weights, mean_cross_entropy
from .gemm_floor import GemmStep, run_epoch

#: The harness's thread count for this process, passed to every fit and predict (as
#: ``threads=``; a revision from before that argument, timed by ``versions.py``, takes none).
THREADS = (
    {"threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "1"))}
    if "threads" in inspect.signature(hg.fit).parameters
    else {}
)


def build(weights: list[tuple[np.ndarray, np.ndarray]], dtype) -> hg.Sequential:
    """Dense → ReLU → … → Dense, starting from ``weights`` (``W (in, out)``, ``b (out,)``)."""
    layers: list[hg.Layer] = []
    for i, (W, _) in enumerate(weights):
        if i:
            layers.append(hg.ReLU())
        layers.append(hg.Dense(W.shape[0], W.shape[1], rng=i, dtype=dtype))
    model = hg.Sequential(layers)
    set_weights(model, weights)
    return model


def set_weights(model: hg.Sequential, weights) -> None:
    # In place: an optimizer may have made .data a view into its flat buffer.
    dense = [layer for layer in model if isinstance(layer, hg.Dense)]
    for layer, (W, b) in zip(dense, weights):
        layer.weight.data[...] = W
        layer.bias.data[...] = b


def make_optimizer(model: hg.Sequential, optimizer: str, work: Work) -> hg.Optimizer:
    if optimizer == "sgd":
        return hg.SGD(model.parameters(), lr=work.spec.sgd_lr)
    if optimizer == "adam":
        return hg.Adam(model.parameters(), lr=work.spec.adam_lr)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")


def epoch(work: Work, optimizer: str, dtype: str = "float32") -> dict:
    """One timed ``model.fit`` epoch on the prepared rows, in their order (``shuffle=False``)."""
    spec = work.spec
    rss_before_data = current_rss_bytes()
    X, y = work.inputs(dtype), work.labels()
    weights = work.weights(dtype)
    model = build(weights, dtype)
    loss = hg.CrossEntropyLoss()
    initial_loss = mean_cross_entropy(model.predict(X[:1024], **THREADS), y[:1024])

    def train(rows: int) -> hg.History:
        return model.fit(
            X[:rows],
            y[:rows],
            loss=loss,
            optimizer=make_optimizer(model, optimizer, work),
            batch_size=spec.batch_size,
            shuffle=False,
            **THREADS,
        )

    train(spec.warmup_rows)  # buffers, BLAS threads and page faults settle here, untimed
    set_weights(model, weights)
    t0 = time.perf_counter()
    history = train(len(X))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "loss": history.loss[0],
        "initial_loss": initial_loss,
        "rss_before_data": rss_before_data,
        "data_bytes": X.nbytes + y.nbytes,
    }


def _batches(X: np.ndarray, y: np.ndarray, size: int, count: int = 8):
    """``count`` different batches of ``size`` rows, cycled forever."""
    rows = np.resize(np.arange(len(X)), size * count).reshape(count, size)
    return itertools.cycle([(X[r], y[r]) for r in rows])


def latency(work: Work, predict_sizes, step_sizes, budget: float) -> list[dict]:
    """``predict`` of n rows; one SGD step at batch b through the public step API (forward,
    loss, ``backward_params``, ``optimizer.step``), and through ``fit`` on that one batch."""
    X, y = work.inputs("float32"), work.labels()
    model = build(work.weights("float32"), "float32")
    loss = hg.CrossEntropyLoss()
    opt = make_optimizer(model, "sgd", work)
    rows = []
    for n in predict_sizes:
        xs = np.resize(X, (n, X.shape[1]))
        times = time_calls(partial(model.predict, xs, **THREADS), budget)
        rows.append({"contender": "handgrad", "what": "predict", "size": n, **summary(times)})

    def step(batches) -> None:
        xb, yb = next(batches)
        loss(model(xb), yb)
        model.backward_params(loss.backward())
        opt.step()

    def fit_one_batch(batches) -> None:
        xb, yb = next(batches)
        model.fit(xb, yb, loss=loss, optimizer=opt, batch_size=len(xb), shuffle=False, **THREADS)

    for b in step_sizes:
        times = time_calls(partial(step, _batches(X, y, b)), budget)
        rows.append({"contender": "handgrad", "what": "step", "size": b, **summary(times)})
        times = time_calls(partial(fit_one_batch, _batches(X, y, b)), budget)
        rows.append({"contender": "handgrad-fit", "what": "step", "size": b, **summary(times)})
    return rows


def sweep_point(work: Work, layers, batch_size: int, budget: float, rounds: int) -> dict:
    """Seconds per step of ``fit`` against the GEMM floor, for one architecture and batch size.

    Both run over the same rows (enough for about ``budget`` seconds of ``fit``, at least four
    steps), alternately ``rounds`` times in this process; the weights are reset before each round.
    """
    spec = work.spec
    layers = tuple(layers)
    if layers == tuple(spec.layers):
        weights = work.weights("float32")
    else:
        weights = [
            (W.astype(np.float32), b.astype(np.float32))
            for W, b in initial_weights(layers, spec.seed)
        ]
    X0, y0 = work.inputs("float32"), work.labels()
    model = build(weights, "float32")
    loss = hg.CrossEntropyLoss()

    def fit(X, y) -> float:
        set_weights(model, weights)
        opt = make_optimizer(model, "sgd", work)
        t0 = time.perf_counter()
        model.fit(X, y, loss=loss, optimizer=opt, batch_size=batch_size, shuffle=False, **THREADS)
        return time.perf_counter() - t0

    probe = 4 * batch_size
    X = np.resize(X0, (probe, X0.shape[1]))
    fit(X, np.resize(y0, probe))
    per_row = fit(X, np.resize(y0, probe)) / probe
    steps = max(4, int(budget / (per_row * batch_size)))
    X, y = np.resize(X0, (steps * batch_size, X0.shape[1])), np.resize(y0, steps * batch_size)
    gemm = GemmStep([W for W, _ in weights], batch_size, np.float32)
    run_epoch(gemm, X[:probe], batch_size)
    hg_times, floor_times = [], []
    for _ in range(rounds):
        hg_times.append(fit(X, y) / steps)
        t0 = time.perf_counter()
        run_epoch(gemm, X, batch_size)
        floor_times.append((time.perf_counter() - t0) / steps)
    return {
        "layers": list(layers),
        "batch_size": batch_size,
        "steps": steps,
        "handgrad": summary(hg_times),
        "floor": summary(floor_times),
    }
