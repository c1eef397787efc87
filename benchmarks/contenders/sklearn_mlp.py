"""scikit-learn's ``MLPClassifier`` in float32, one epoch, from the shared initial weights.

Giving it the initial weights: ``MLPClassifier`` has no argument for them, but with
``warm_start=True`` a ``fit`` starts from whatever ``coefs_`` and ``intercepts_`` hold. So the
classifier is first fitted on a few rows (which sets the attributes ``fit`` expects besides the
weights: the classes, the layer count, the output activation), its ``coefs_`` and ``intercepts_``
are then replaced by the shared float32 weights, and the timed ``fit`` starts from them with a
fresh optimizer (``fit``, unlike ``partial_fit``, always builds a new one). The harness checks
that it worked: the loss of these weights on the first rows, computed from ``predict_proba``,
must equal every other contender's.

A float32 ``X`` keeps the whole computation in float32. ``max_iter=1`` is one epoch;
``shuffle=False`` keeps the prepared order; ``alpha=0`` (no L2 term), constant learning rate,
no momentum and no early stopping make the update the plain rule the others use.
"""

from __future__ import annotations

import time
import warnings
from functools import partial

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from ..timing import summary, time_calls
from ..workload import Work, mean_cross_entropy


def make(work: Work, optimizer: str) -> MLPClassifier:
    spec = work.spec
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    return MLPClassifier(
        hidden_layer_sizes=tuple(spec.layers[1:-1]),
        activation="relu",
        solver=optimizer,
        alpha=0.0,
        batch_size=spec.batch_size,
        learning_rate="constant",
        learning_rate_init=spec.sgd_lr if optimizer == "sgd" else spec.adam_lr,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=1,
        shuffle=False,
        early_stopping=False,
        tol=0.0,
        n_iter_no_change=10**9,
        warm_start=True,
        random_state=spec.seed,
    )


def set_weights(clf: MLPClassifier, weights) -> None:
    clf.coefs_ = [np.array(W, dtype=np.float32) for W, _ in weights]
    clf.intercepts_ = [np.array(b, dtype=np.float32) for _, b in weights]


def _check_classes(y: np.ndarray, n_classes: int) -> None:
    present = np.unique(y)
    if len(present) != n_classes:
        raise ValueError(
            f"MLPClassifier sizes its output layer by the classes present in y: the data must "
            f"hold all {n_classes} classes, got {present.tolist()}"
        )


def epoch(work: Work, optimizer: str, dtype: str = "float32") -> dict:
    spec = work.spec
    X, y = work.inputs("float32"), work.labels()
    _check_classes(y, spec.layers[-1])
    weights = work.weights("float32")
    clf = make(work, optimizer)
    with warnings.catch_warnings():
        # max_iter=1 is one epoch on purpose; warm-up rows fewer than a batch are clipped.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        clf.fit(X[: spec.warmup_rows], y[: spec.warmup_rows])  # sets classes_ etc.; warm-up
        set_weights(clf, weights)
        initial_loss = mean_cross_entropy(np.log(clf.predict_proba(X[:1024])), y[:1024])
        t0 = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "loss": float(clf.loss_), "initial_loss": initial_loss}


def latency(work: Work, predict_sizes, step_sizes, budget: float) -> list[dict]:
    """``predict_proba`` of n rows; one SGD step at batch b as ``partial_fit`` on that batch."""
    X, y = work.inputs("float32"), work.labels()
    n_classes = work.spec.layers[-1]
    clf = make(work, "sgd").set_params(warm_start=False)  # else partial_fit checks the classes
    clf.partial_fit(X[:1], y[:1], classes=np.arange(n_classes))
    set_weights(clf, work.weights("float32"))
    rows = []
    for n in predict_sizes:
        xs = np.resize(X, (n, X.shape[1]))
        times = time_calls(partial(clf.predict_proba, xs), budget)
        rows.append({"contender": "sklearn", "what": "predict", "size": n, **summary(times)})
    for b in step_sizes:
        clf.set_params(batch_size=b)  # else every call warns that its batch is smaller than 128
        xs, ys = np.resize(X, (b, X.shape[1])), np.resize(y, b)
        times = time_calls(partial(clf.partial_fit, xs, ys), budget)
        rows.append({"contender": "sklearn", "what": "step", "size": b, **summary(times)})
    return rows
