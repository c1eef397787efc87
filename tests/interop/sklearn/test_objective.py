"""The estimators' objective: its values and gradients against the formulas, finite differences
and scikit-learn's loss functions, and the steps it gives against scikit-learn's MLP."""

import numpy as np
import pytest
from helpers.sklearn_mlp import TASKS, assert_same_weights, quietly, task_data, twins
from scipy.special import expit, softmax, xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._base import LOSS_FUNCTIONS

import handgrad as hg
from handgrad.interop.sklearn.objective import (
    Objective,
    VelocitySGD,
    add_penalty_gradient,
    pack_target,
    weights,
)
from handgrad.sklearn import MLPRegressor

OUTPUTS = ["logistic", "softmax", "identity", "exp"]


def batch(output, n=7, k=3, seed=0):
    """Raw outputs z, targets Y of the output's kind, and weights s (one of them 0)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, k))
    if output == "logistic":
        Y = (rng.random((n, k)) > 0.5).astype(float)
    elif output == "softmax":
        Y = np.eye(k)[rng.integers(0, k, n)]
    elif output == "exp":
        Y = rng.poisson(2.0, (n, k)).astype(float)
    else:
        Y = rng.standard_normal((n, k))
    s = rng.integers(0, 4, n).astype(float)
    s[0], s[1] = 0.0, 2.0
    return z, Y, s


def network(seed=0, n_in=4):
    return hg.Sequential([hg.Dense(n_in, 5, rng=seed), hg.Tanh(), hg.Dense(5, 3, rng=seed + 1)])


def objective(output, alpha=0.0, model=None):
    model = network() if model is None else model
    return Objective(output, model, weights(model), alpha)


def value(output, z, Y, s):
    return objective(output)._forward(z, pack_target(Y, s))


# Values and gradients ---------------------------------------------------------------------------


@pytest.mark.parametrize("output", OUTPUTS)
def test_the_value_is_sklearns_loss_with_sample_weights(output):
    """1/S Σ s_i ℓ_i equals scikit-learn's loss function (np.average with the weights) on the
    predictions h(z); its squared error averages the k outputs where handgrad sums them."""
    z, Y, s = batch(output)
    name, h, scale = {
        "logistic": ("binary_log_loss", expit(z), 1),
        "softmax": ("log_loss", softmax(z, axis=1), 1),
        "identity": ("squared_error", z, z.shape[1]),
        "exp": ("poisson", np.exp(z), 1),
    }[output]
    expected = scale * LOSS_FUNCTIONS[name](Y, h, sample_weight=s)
    assert value(output, z, Y, s) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("output", OUTPUTS)
def test_the_value_follows_the_written_formula(output):
    z, Y, s = batch(output)
    if output == "logistic":
        rows = (np.logaddexp(0, z) - Y * z).sum(axis=1)
    elif output == "softmax":
        rows = np.log(np.exp(z).sum(axis=1)) - (Y * z).sum(axis=1)
    elif output == "identity":
        rows = 0.5 * ((z - Y) ** 2).sum(axis=1)
    else:
        rows = (np.exp(z) - Y * z + xlogy(Y, Y) - Y).sum(axis=1)
    assert value(output, z, Y, s) == pytest.approx(np.dot(s, rows) / s.sum(), rel=1e-13)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_gradient_matches_central_differences(output, seed):
    z, Y, s = batch(output, seed=seed)
    obj = objective(output)
    target = pack_target(Y, s)
    obj._forward(z, target)
    grad = obj.backward()
    eps = 1e-6
    numeric = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (obj._forward(up, target) - obj._forward(down, target)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    assert np.all(grad[0] == 0)  # the row of weight 0 pulls on nothing


@pytest.mark.parametrize("output", OUTPUTS)
def test_a_weight_of_two_counts_a_row_twice(output):
    z, Y, _ = batch(output)
    s = np.ones(len(z))
    s[3] = 2
    twice = np.r_[np.arange(len(z)), 3]
    obj, dup = objective(output), objective(output)
    assert obj._forward(z, pack_target(Y, s)) == pytest.approx(
        dup._forward(z[twice], pack_target(Y[twice], np.ones(len(twice)))), rel=1e-14
    )
    g, g_dup = obj.backward(), dup.backward()
    np.testing.assert_allclose(g[3], g_dup[3] + g_dup[-1], rtol=1e-14)
    np.testing.assert_allclose(g[:3], g_dup[:3], rtol=1e-14)


def test_a_batch_whose_weights_sum_to_zero_has_no_value_and_no_gradient():
    z, Y, _ = batch("softmax")
    obj = objective("softmax", alpha=1.0)
    assert obj._forward(z, pack_target(Y, np.zeros(len(z)))) == 0.0
    assert not obj.backward().any()
    assert obj.weight_sum == 0.0


def test_the_target_must_carry_one_weight_column():
    z, Y, _ = batch("identity")
    with pytest.raises(ValueError, match=r"targets \[Y \| sample_weight\] of shape \(n, 4\)"):
        objective("identity").check_target(Y, z.shape, np.float64)


def test_the_penalty_and_its_gradient_match_central_differences():
    """α/(2S)·Σ‖W‖² joins the value in training mode; add_penalty_gradient adds its derivative
    α·W/S, checked here element by element against the value's finite differences."""
    model = network(seed=3)
    alpha = 0.7
    z, Y, s = batch("identity")
    target = pack_target(Y, s)
    obj = objective("identity", alpha=alpha, model=model)
    W = model[0].weight
    data = value("identity", z, Y, s)
    squares = sum((p.data**2).sum() for p in weights(model))
    penalty = 0.5 * alpha * squares / s.sum()
    assert obj._forward(z, target) == pytest.approx(data + penalty, rel=1e-12)
    assert obj.weight_sum == s.sum()
    for p in model.parameters():
        p.grad[...] = 0
    add_penalty_gradient(obj)
    eps = 1e-6
    for idx in [(0, 0), (2, 3), (3, 1)]:
        old = W.data[idx]
        W.data[idx] = old + eps
        up = obj._forward(z, target)
        W.data[idx] = old - eps
        down = obj._forward(z, target)
        W.data[idx] = old
        assert W.grad[idx] == pytest.approx((up - down) / (2 * eps), rel=1e-6)
    assert not model[0].bias.grad.any()  # biases carry no penalty
    with model.mode(training=False):
        assert obj._forward(z, target) == pytest.approx(data, rel=1e-12)


# The steps, against scikit-learn's MLP ------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("task", TASKS)
def test_sgd_steps_equal_sklearns_with_momentum_and_alpha(task, activation):
    """16 steps (4 epochs of batches 16, 16, 16, 2) from the same weights: the L2 penalty with
    the short last batch's n, Nesterov momentum and the loss all agree with scikit-learn's."""
    ours_cls, theirs_cls, X, y, extra = task_data(task)
    ours, theirs = twins(
        ours_cls,
        theirs_cls,
        X,
        y,
        hidden_layer_sizes=(5, 3),
        activation=activation,
        solver="sgd",
        alpha=0.3,
        batch_size=16,
        learning_rate_init=0.05,
        momentum=0.9,
        nesterovs_momentum=True,
        **extra,
    )
    assert_same_weights(ours, theirs)
    if task != "regression_3_targets":
        np.testing.assert_allclose(ours.loss_curve_[-4:], theirs.loss_curve_[-4:], rtol=1e-12)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel", "regression", "poisson"])
def test_sample_weighted_steps_equal_sklearns(task):
    """Weights (zeros and repeats among them) in the loss, its gradient and the penalty's S."""
    ours_cls, theirs_cls, X, y, extra = task_data(task)
    weight = np.random.default_rng(1).integers(0, 4, len(X)).astype(float)
    ours, theirs = twins(
        ours_cls,
        theirs_cls,
        X,
        y,
        sample_weight=weight,
        hidden_layer_sizes=(5,),
        solver="sgd",
        alpha=0.3,
        batch_size=16,
        learning_rate_init=0.05,
        **extra,
    )
    assert_same_weights(ours, theirs)
    np.testing.assert_allclose(ours.loss_curve_[-4:], theirs.loss_curve_[-4:], rtol=1e-12)


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.5, False), (0.9, True)])
def test_sgd_momentum_variants_equal_sklearns(momentum, nesterov):
    ours_cls, theirs_cls, X, y, _ = task_data("multiclass")
    ours, theirs = twins(
        ours_cls,
        theirs_cls,
        X,
        y,
        hidden_layer_sizes=(6,),
        solver="sgd",
        batch_size=10,
        learning_rate_init=0.1,
        momentum=momentum,
        nesterovs_momentum=nesterov,
    )
    assert_same_weights(ours, theirs)


def test_three_target_loss_sums_the_outputs_where_sklearn_reports_their_mean():
    """With k = 3 targets scikit-learn's steps follow ½·Σ over the outputs while its loss curve
    reports ½·mean; handgrad reports what it descends. Without a penalty the curves differ by k."""
    ours_cls, theirs_cls, X, y, _ = task_data("regression_3_targets")
    ours, theirs = twins(
        ours_cls, theirs_cls, X, y, hidden_layer_sizes=(5,), solver="sgd", alpha=0.0
    )
    assert_same_weights(ours, theirs)
    np.testing.assert_allclose(
        ours.loss_curve_[-4:], 3 * np.array(theirs.loss_curve_[-4:]), rtol=1e-12
    )


@pytest.mark.parametrize("task", TASKS)
def test_adam_steps_equal_sklearns_up_to_where_epsilon_enters(task):
    """handgrad's Adam divides by √v̂ + ε, scikit-learn's by √v + ε; with ε → 0 they agree."""
    ours_cls, theirs_cls, X, y, extra = task_data(task)
    ours, theirs = twins(
        ours_cls,
        theirs_cls,
        X,
        y,
        hidden_layer_sizes=(5, 3),
        activation="tanh",
        solver="adam",
        alpha=0.1,
        batch_size=16,
        learning_rate_init=0.01,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-300,
        **extra,
    )
    assert_same_weights(ours, theirs, rtol=1e-9)


def forward(est, X):
    """The network's output from coefs_ and intercepts_, with NumPy alone (ReLU hidden layers)."""
    A = X
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        A = A @ W + b
        if i < len(est.coefs_) - 1:
            A = np.maximum(A, 0)
    return A


@pytest.mark.parametrize("task", TASKS)
def test_loss_curve_is_the_penalised_objective(task):
    """One full batch from known weights: the warm start's loss_curve_ entry is
    1/n Σ ℓ + α/(2n) Σ ‖W‖², computed here from the weights with NumPy."""
    ours_cls, _, X, y, extra = task_data(task)
    alpha, n = 2.0, len(X)
    est = ours_cls(
        hidden_layer_sizes=(6, 4), alpha=alpha, max_iter=1, batch_size=n, random_state=1, **extra
    )
    quietly(est.fit, X, y)
    z = forward(est, X)
    penalty = alpha / (2 * n) * sum((W**2).sum() for W in est.coefs_)
    quietly(est.set_params(warm_start=True).fit, X, y)
    if task == "binary":
        t = (y == est.classes_[1]).astype(float)[:, None]
        data = np.mean(np.logaddexp(0, z) - t * z)
    elif task == "multilabel":
        data = np.mean((np.logaddexp(0, z) - y * z).sum(axis=1))
    elif task == "multiclass":
        lse = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
        data = np.mean(lse - z[np.arange(n), y])
    elif task == "poisson":
        data = np.mean(np.exp(z[:, 0]) - y * z[:, 0] + xlogy(y, y) - y)
    else:
        data = 0.5 * np.mean(((z - y.reshape(n, -1)) ** 2).sum(axis=1))
    assert len(est.loss_curve_) == 2  # the warm start continues the curve
    assert est.loss_curve_[1] == pytest.approx(data + penalty, rel=1e-12)
    assert penalty > 0.05 * data  # large enough that leaving it out would be seen


def test_biases_are_not_penalised():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ [1.0, -2.0, 0.5] + 10  # a large intercept
    est = MLPRegressor(
        hidden_layer_sizes=(),
        alpha=1e3,
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.05,
        max_iter=600,
        n_iter_no_change=600,
        shuffle=False,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)  # one full batch per epoch: plain gradient descent to the optimum
    W, b = est.coefs_[0][:, 0], est.intercepts_[0][0]
    # The penalty shrinks the weights (to about 1/26 of [1, -2, 0.5] here); the unpenalised
    # intercept sits where its own gradient mean(X·W + b − y) vanishes, near 10. A penalised one
    # would satisfy b = Σ(y − X·W)/(n + α), about 0.4.
    assert np.abs(W).max() < 0.1
    assert b == pytest.approx(np.mean(y - X @ W), rel=1e-9)
    assert b > 9


# scikit-learn's SGD rule --------------------------------------------------------------------------


@pytest.mark.parametrize("nesterov", [False, True])
def test_velocity_sgd_follows_its_formula_and_handgrads_sgd_at_a_constant_rate(nesterov):
    """v ← μ·v − η·g, w ← w + v (Nesterov: w + μ·v − η·g), step by step; with η fixed it is
    handgrad's SGD with v = −η·b, and when η changes the two part."""
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((5, 4))
    rates = [0.1, 0.1, 0.1, 0.02, 0.02]
    w0 = rng.standard_normal(4)
    p, q = hg.Parameter(w0.copy()), hg.Parameter(w0.copy())
    ours = VelocitySGD([p], lr=0.1, momentum=0.9, nesterov=nesterov)
    torch_like = hg.SGD([q], lr=0.1, momentum=0.9, nesterov=nesterov)
    w, v = w0.copy(), np.zeros(4)
    for step, (g, lr) in enumerate(zip(grads, rates)):
        ours.lr = torch_like.lr = lr
        p.grad[...] = q.grad[...] = g
        ours.step()
        torch_like.step()
        v = 0.9 * v - lr * g
        w = w + (0.9 * v - lr * g if nesterov else v)
        np.testing.assert_allclose(p.data, w, rtol=1e-13, atol=1e-15)
        if step < 3:
            np.testing.assert_allclose(p.data, q.data, rtol=1e-13)
    assert not np.allclose(p.data, q.data, rtol=1e-6)  # the rate changed: velocity matters


def test_velocity_sgd_without_momentum_is_plain_descent():
    p = hg.Parameter(np.array([1.0, -2.0]))
    opt = VelocitySGD([p], lr=0.5)
    p.grad[...] = [0.2, 0.4]
    opt.step()
    np.testing.assert_array_equal(p.data, [0.9, -2.2])
    assert opt.state_dict()["type"] == "VelocitySGD"
