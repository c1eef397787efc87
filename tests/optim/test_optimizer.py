"""What every optimizer shares: the step, the learning rate, state_dict and argument checks."""

import numpy as np
import pytest

import handgrad as hg


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
