"""Helpers of the scikit-learn estimator tests (tests/interop/sklearn/): data, and the pairs of
handgrad's and scikit-learn's estimators started from the same weights."""

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk_nn
from sklearn.exceptions import ConvergenceWarning

from handgrad.sklearn import MLPClassifier, MLPRegressor

# Estimators that run out of epochs warn, as scikit-learn's do; tests that stop early on purpose
# say so with this mark.
stops_early = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TASKS = ["binary", "multiclass", "multilabel", "regression", "regression_3_targets", "poisson"]


def blobs(rng, n=120, classes=3, features=4):
    centers = rng.standard_normal((classes, features)) * 3
    y = rng.integers(0, classes, n)
    return centers[y] + rng.standard_normal((n, features)), y


def task_data(task, n=50):
    """``(our class, scikit-learn's class, X, y, extra parameters)`` of a small problem."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4))
    if task == "binary":
        return MLPClassifier, sk_nn.MLPClassifier, X, np.where(X[:, 0] + X[:, 1] > 0, "a", "b"), {}
    if task == "multiclass":
        return MLPClassifier, sk_nn.MLPClassifier, X, rng.integers(0, 3, n), {}
    if task == "multilabel":
        Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] > 0.5], axis=1).astype(int)
        return MLPClassifier, sk_nn.MLPClassifier, X, Y, {}
    if task == "regression":
        return MLPRegressor, sk_nn.MLPRegressor, X, 2 * X[:, 0] - X[:, 1], {}
    if task == "poisson":
        counts = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1])).astype(float)
        return MLPRegressor, sk_nn.MLPRegressor, X, counts, {"loss": "poisson"}
    return MLPRegressor, sk_nn.MLPRegressor, X, X[:, :3] @ rng.standard_normal((3, 3)), {}


def quietly(fit, *args, **kwargs):
    """``fit(*args, **kwargs)`` with ConvergenceWarning silenced (runs cut short on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


def twins(ours_cls, theirs_cls, X, y, *, epochs=4, sample_weight=None, **params):
    """handgrad's and scikit-learn's estimator, each fitted once (one epoch or iteration), then
    both set to continue (warm start) from handgrad's weights for ``epochs`` more, with fresh
    optimizers."""
    params = dict(random_state=0, shuffle=False, max_iter=1, **params)
    ours = quietly(ours_cls(**params).fit, X, y, sample_weight=sample_weight)
    theirs = quietly(theirs_cls(**params).fit, X, y, sample_weight=sample_weight)
    copy_weights(ours, theirs)
    ours.set_params(warm_start=True, max_iter=epochs)
    theirs.set_params(warm_start=True, max_iter=epochs)
    quietly(ours.fit, X, y, sample_weight=sample_weight)
    quietly(theirs.fit, X, y, sample_weight=sample_weight)
    return ours, theirs


def copy_weights(source, dest):
    """Put ``source``'s weights and biases into ``dest`` (either library's estimator)."""
    dest.coefs_ = [W.copy() for W in source.coefs_]
    dest.intercepts_ = [b.copy() for b in source.intercepts_]


def assert_same_weights(ours, theirs, rtol=1e-10, atol=1e-13):
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def replay_stopping(values, tol, n_iter_no_change, higher_is_better):
    """The epoch (1-based) at which scikit-learn's rule stops, or None."""
    best = -np.inf if higher_is_better else np.inf
    count = 0
    for epoch, v in enumerate(values, start=1):
        worse = v < best + tol if higher_is_better else v > best - tol
        count = count + 1 if worse else 0
        best = max(best, v) if higher_is_better else min(best, v)
        if count > n_iter_no_change:
            return epoch
    return None
