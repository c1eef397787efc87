"""Each update rule against its formula written out step by step (PyTorch: test_oracle_torch.py)."""

import numpy as np
import pytest

import handgrad as hg

STEPS = 4


def run(make, grads, w0):
    """Apply the optimizer to one parameter for the given sequence of gradients."""
    p = hg.Parameter(w0)
    opt = make([p])
    out = []
    for g in grads:
        p.grad[...] = g
        opt.step()
        out.append(p.data.copy())
    return out


def reference_sgd(grads, w, lr, momentum=0.0, nesterov=False, wd=0.0):
    out, b = [], None
    for g in grads:
        g = g + wd * w
        if momentum:
            b = g.copy() if b is None else momentum * b + g
            g = g + momentum * b if nesterov else b
        w = w - lr * g
        out.append(w)
    return out


def reference_adam(grads, w, lr, b1, b2, eps, wd=0.0, decoupled=False, amsgrad=False):
    out, m, v, vmax = [], 0 * w, 0 * w, 0 * w
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - b2**t)
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(vhat) + eps)
        out.append(w)
    return out


def reference_rmsprop(grads, w, lr, alpha, eps, wd=0.0, momentum=0.0, centered=False):
    out, v, gavg, b = [], 0 * w, 0 * w, 0 * w
    for g in grads:
        g = g + wd * w
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            d = np.sqrt(v - gavg * gavg) + eps
        else:
            d = np.sqrt(v) + eps
        if momentum:
            b = momentum * b + g / d
            w = w - lr * b
        else:
            w = w - lr * g / d
        out.append(w)
    return out


@pytest.fixture
def problem(rng):
    return rng.standard_normal((STEPS, 5)), rng.standard_normal(5)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True},
        {"weight_decay": 0.1},
        {"momentum": 0.5, "weight_decay": 0.01, "nesterov": True},
    ],
)
def test_sgd(kw, problem):
    grads, w0 = problem
    got = run(lambda p: hg.SGD(p, lr=0.1, **kw), grads, w0)
    expected = reference_sgd(
        grads,
        w0,
        0.1,
        kw.get("momentum", 0.0),
        kw.get("nesterov", False),
        kw.get("weight_decay", 0.0),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(
    "kw", [{}, {"weight_decay": 0.1}, {"amsgrad": True}, {"betas": (0.5, 0.9), "eps": 1e-3}]
)
@pytest.mark.parametrize("cls", [hg.Adam, hg.AdamW])
def test_adam_and_adamw(cls, kw, problem):
    grads, w0 = problem
    kw = {"weight_decay": 0.01, **kw} if cls is hg.AdamW else kw
    got = run(lambda p: cls(p, lr=0.01, **kw), grads, w0)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    expected = reference_adam(
        grads,
        w0,
        0.01,
        b1,
        b2,
        kw.get("eps", 1e-8),
        kw.get("weight_decay", 0.0),
        cls is hg.AdamW,
        kw.get("amsgrad", False),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_adamw_default_weight_decay_is_pytorchs():
    assert hg.AdamW([hg.Parameter([1.0])]).weight_decay == 0.01
    assert hg.Adam([hg.Parameter([1.0])]).weight_decay == 0.0


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"centered": True},
        {"momentum": 0.9},
        {"weight_decay": 0.1, "alpha": 0.9},
        {"centered": True, "momentum": 0.5},
    ],
)
def test_rmsprop(kw, problem):
    grads, w0 = problem
    got = run(lambda p: hg.RMSprop(p, lr=0.01, **kw), grads, w0)
    expected = reference_rmsprop(
        grads,
        w0,
        0.01,
        kw.get("alpha", 0.99),
        1e-8,
        kw.get("weight_decay", 0.0),
        kw.get("momentum", 0.0),
        kw.get("centered", False),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_step_leaves_the_gradient_unchanged(problem):
    grads, w0 = problem
    p = hg.Parameter(w0)
    opt = hg.Adam([p], weight_decay=0.1)
    p.grad[...] = grads[0]
    opt.step()
    np.testing.assert_array_equal(p.grad, grads[0])


def test_parameters_of_two_dtypes_are_updated_in_their_own_dtype():
    a, b = hg.Parameter(np.ones(2, np.float32)), hg.Parameter(np.ones(3))
    opt = hg.SGD([a, b], lr=0.5)
    a.grad[...] = 1
    b.grad[...] = 2
    opt.step()
    assert a.data.dtype == np.float32 and b.data.dtype == np.float64
    np.testing.assert_array_equal(a.data, [0.5, 0.5])
    np.testing.assert_array_equal(b.data, [0.0, 0.0, 0.0])


def test_a_rebound_gradient_is_still_used():
    p = hg.Parameter(np.zeros(2))
    opt = hg.SGD([p], lr=1.0)
    p.grad = np.array([1.0, -1.0])  # a user layer may assign instead of writing in place
    opt.step()
    np.testing.assert_array_equal(p.data, [-1.0, 1.0])


def test_zero_grad_and_duplicates():
    p = hg.Parameter(np.ones(3))
    opt = hg.SGD([p, p], lr=0.1)
    assert opt.params == [p]
    p.grad[...] = 5
    opt.zero_grad()
    assert not p.grad.any()


def test_learning_rate_can_be_changed_between_steps():
    p = hg.Parameter(np.zeros(1))
    opt = hg.SGD([p], lr=1.0)
    p.grad[...] = 1
    opt.step()
    opt.lr = 0.25
    opt.step()
    np.testing.assert_allclose(p.data, [-1.25])
    with pytest.raises(ValueError, match="lr must be >= 0, got -1"):
        opt.lr = -1


def test_state_dict_round_trip_continues_identically(problem):
    grads, w0 = problem
    p1 = hg.Parameter(w0)
    opt1 = hg.Adam([p1], lr=0.05)
    for g in grads[:2]:
        p1.grad[...] = g
        opt1.step()
    saved = opt1.state_dict()
    p2 = hg.Parameter(p1.data)
    opt2 = hg.Adam([p2], lr=0.9)
    opt2.load_state_dict(saved)
    assert opt2.lr == 0.05 and opt2.t == 2
    for g in grads[2:]:
        for p, opt in ((p1, opt1), (p2, opt2)):
            p.grad[...] = g
            opt.step()
    np.testing.assert_array_equal(p1.data, p2.data)


def test_adam_betas_are_fixed_once_stepping(problem):
    p = hg.Parameter(np.ones(5))
    opt = hg.Adam([p])
    opt.betas = (0.8, 0.99)
    p.grad[...] = problem[0][0]
    opt.step()
    with pytest.raises(ValueError, match="betas cannot change once steps were taken"):
        opt.betas = (0.9, 0.999)


def test_state_dict_of_another_optimizer_is_refused():
    p = hg.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="state_dict is for 'SGD', this optimizer is Adam"):
        hg.Adam([p]).load_state_dict(hg.SGD([p], lr=1).state_dict())


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: hg.SGD(p, lr=0), ValueError, "lr must be > 0, got 0"),
        (lambda p: hg.SGD(p, lr=-0.1), ValueError, "lr must be > 0, got -0.1"),
        (lambda p: hg.SGD(p, lr="0.1"), TypeError, r"lr must be a real number, got '0.1' \(str\)"),
        (lambda p: hg.SGD(p, lr=float("nan")), ValueError, "lr must be finite"),
        (lambda p: hg.SGD(p, lr=0.1, momentum=-0.9), ValueError, "momentum must be >= 0, got -0.9"),
        (lambda p: hg.SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov=True needs momentum"),
        (lambda p: hg.SGD(p, lr=0.1, weight_decay=-1), ValueError, "weight_decay must be >= 0"),
        (lambda p: hg.Adam(p, betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be in \[0, 1\)"),
        (lambda p: hg.Adam(p, betas=0.9), TypeError, "betas must be a pair"),
        (lambda p: hg.Adam(p, eps=-1e-8), ValueError, "eps must be >= 0"),
        (lambda p: hg.RMSprop(p, alpha=1.5), ValueError, r"alpha must be in \[0, 1\]"),
        (lambda p: hg.SGD([], lr=0.1), ValueError, "params is empty"),
        (lambda p: hg.SGD(p[0], lr=0.1), TypeError, "got one"),
        (lambda p: hg.SGD([np.ones(2)], lr=0.1), TypeError, r"params\[0\] must be a Parameter"),
        (lambda p: hg.SGD(3, lr=0.1), TypeError, "params must be an iterable of Parameters"),
    ],
)
def test_bad_hyperparameters_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make([hg.Parameter(np.ones(2))])
