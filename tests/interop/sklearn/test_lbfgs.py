"""solver="lbfgs": SciPy's L-BFGS-B on handgrad's gradient, against scikit-learn's lbfgs from the
same starting weights, and its limits (max_iter, max_fun, tol)."""

import io
import re
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from helpers.sklearn_mlp import assert_same_weights, copy_weights, quietly, task_data, twins
from scipy.special import xlogy
from sklearn import neural_network as sk_nn
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from handgrad.sklearn import MLPClassifier, MLPRegressor

# Regression with k > 1 targets is left out: scikit-learn hands L-BFGS-B the mean over the k
# outputs as the value and the gradient of their sum, which handgrad does not copy.
SAME_OBJECTIVE = ["binary", "multiclass", "multilabel", "regression", "poisson"]
LBFGS = dict(solver="lbfgs", hidden_layer_sizes=(5,), alpha=0.1, activation="tanh")


@pytest.mark.parametrize("task", SAME_OBJECTIVE)
def test_iterations_from_the_same_weights_are_sklearns(task):
    """25 iterations: the same steps, so the same loss and weights to rounding."""
    ours_cls, theirs_cls, X, y, extra = task_data(task)
    ours, theirs = twins(ours_cls, theirs_cls, X, y, epochs=25, **LBFGS, **extra)
    assert ours.n_iter_ == theirs.n_iter_ == 25
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    assert_same_weights(ours, theirs, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("task", SAME_OBJECTIVE)
def test_converged_runs_reach_sklearns_loss(task):
    """Run to convergence (a tight tol, or SciPy's own stopping tests), the two libraries end at
    the same minimum: near it, rounding steers the last iterations apart, so the losses agree to
    1e-5 (at the default tol=1e-4, to 1e-4: the minimum of the regression is flat)."""
    ours_cls, theirs_cls, X, y, extra = task_data(task)
    ours, theirs = twins(ours_cls, theirs_cls, X, y, epochs=2000, tol=1e-8, **LBFGS, **extra)
    assert ours.n_iter_ < 2000 and theirs.n_iter_ < 2000
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-5)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_sample_weighted_iterations_are_sklearns(task):
    ours_cls, theirs_cls, X, y, extra = task_data(task)
    weight = np.random.default_rng(1).integers(0, 4, len(X)).astype(float)
    ours, theirs = twins(
        ours_cls, theirs_cls, X, y, epochs=25, sample_weight=weight, **LBFGS, **extra
    )
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    assert_same_weights(ours, theirs, rtol=1e-6, atol=1e-8)


def test_a_weight_of_two_fits_like_the_row_twice():
    ours_cls, _, X, y, _ = task_data("multiclass")
    weight = np.ones(len(X))
    weight[[3, 17]] = 2
    twice = np.r_[np.arange(len(X)), 3, 17]
    params = dict(random_state=0, max_iter=60, **LBFGS)
    weighted = quietly(ours_cls(**params).fit, X, y, sample_weight=weight)
    repeated = quietly(ours_cls(**params).fit, X[twice], y[twice])
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-10)
    assert_same_weights(weighted, repeated, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("task", [*SAME_OBJECTIVE, "regression_3_targets"])
def test_the_loss_is_the_objective_at_the_final_weights(task):
    """loss_ is the value L-BFGS-B ended on: 1/n Σ ℓ + α/(2n) Σ ‖W‖² at the final weights,
    computed here with NumPy; the loss curve holds one value per iteration."""
    ours_cls, _, X, y, extra = task_data(task)
    est = quietly(ours_cls(random_state=0, max_iter=40, **LBFGS, **extra).fit, X, y)
    assert len(est.loss_curve_) == est.n_iter_
    assert est.loss_curve_[-1] == pytest.approx(est.loss_, rel=1e-12)
    assert est.best_loss_ == min(est.loss_curve_)
    z = np.tanh(X @ est.coefs_[0] + est.intercepts_[0]) @ est.coefs_[1] + est.intercepts_[1]
    n = len(X)
    if task == "binary":
        t = (y == est.classes_[1])[:, None]
        rows = np.logaddexp(0, z) - t * z
    elif task == "multiclass":
        rows = np.log(np.exp(z).sum(axis=1)) - z[np.arange(n), y]
    elif task == "multilabel":
        rows = np.logaddexp(0, z) - y * z
    elif task == "poisson":
        rows = np.exp(z[:, 0]) - y * z[:, 0] + xlogy(y, y) - y
    else:
        rows = 0.5 * (z - y.reshape(n, -1)) ** 2
    penalty = 0.1 / (2 * n) * sum((W**2).sum() for W in est.coefs_)
    assert est.loss_ == pytest.approx(rows.sum() / n + penalty, rel=1e-10)


@pytest.mark.parametrize(
    "limits", [dict(max_iter=3), dict(max_fun=4), dict(tol=1.0)], ids=["max_iter", "max_fun", "tol"]
)
def test_the_limits_stop_where_sklearns_do(limits):
    """max_iter and max_fun stop both libraries at the same iteration, with a
    ConvergenceWarning; a large tol stops both early without one."""
    ours_cls, theirs_cls, X, y, _ = task_data("multiclass")
    ours = quietly(ours_cls(random_state=0, max_iter=1, **LBFGS).fit, X, y)
    theirs = quietly(theirs_cls(random_state=0, max_iter=1, **LBFGS).fit, X, y)
    copy_weights(ours, theirs)
    warned = []
    for est in (ours, theirs):
        est.set_params(**{"warm_start": True, "max_iter": 200, **limits})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est.fit(X, y)
        warned.append(sum(issubclass(w.category, ConvergenceWarning) for w in caught))
    assert ours.n_iter_ == theirs.n_iter_
    assert warned == ([0, 0] if "tol" in limits else [1, 1])
    assert ours.n_iter_ == limits.get("max_iter", ours.n_iter_) and ours.n_iter_ < 10
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)


def test_float32_data_trains_float32_weights_like_sklearns():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=50, random_state=0)
    ours = quietly(MLPClassifier(**params).fit, X, y)
    theirs = quietly(sk_nn.MLPClassifier(**params).fit, X, y)
    assert ours.coefs_[0].dtype == np.float32
    assert ours.predict_proba(X).dtype == np.float32
    assert ours.score(X, y) >= theirs.score(X, y) - 0.01


def test_verbose_prints_one_line_per_iteration():
    _, _, X, y, _ = task_data("binary")
    out = io.StringIO()
    with redirect_stdout(out):
        est = quietly(MLPClassifier(random_state=0, max_iter=7, verbose=True, **LBFGS).fit, X, y)
    lines = out.getvalue().splitlines()
    assert len(lines) == est.n_iter_ == 7
    for i, (line, loss) in enumerate(zip(lines, est.loss_curve_), start=1):
        assert re.fullmatch(rf"Iteration {i}, loss = \d\.\d{{8}}", line)
        assert float(line.split("= ")[1]) == pytest.approx(loss, abs=5e-9)


def test_an_overflowing_start_is_a_value_error_and_changes_nothing():
    _, _, X, y, _ = task_data("regression")
    params = {**LBFGS, "activation": "relu"}  # tanh would saturate instead of overflowing
    est = quietly(MLPRegressor(random_state=0, max_iter=5, **params).fit, X, y)
    before = [W.copy() for W in est.coefs_], est.loss_curve_, est.n_iter_
    with pytest.raises(ValueError, match=r"diverged with solver='lbfgs'") as info:
        est.set_params(warm_start=True).fit(X * 1e300, y)
    assert "learning_rate_init" in str(info.value) and "gradient_clip" not in str(info.value)
    for a, b in zip(est.coefs_, before[0]):
        np.testing.assert_array_equal(a, b)
    assert est.loss_curve_ == before[1] and est.n_iter_ == before[2]


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_partial_fit_is_absent_with_lbfgs(cls):
    est = cls(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    assert not hasattr(sk_nn.MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError) as info:
        est.partial_fit  # noqa: B018
    assert "stochastic solvers 'sgd' and 'adam', not with solver='lbfgs'" in str(
        info.value.__cause__
    )
    assert hasattr(est.set_params(solver="sgd"), "partial_fit")
