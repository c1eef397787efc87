import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg

ACTIVATIONS = {
    "relu": hg.ReLU,
    "leaky_relu": lambda: hg.LeakyReLU(0.1),
    "sigmoid": hg.Sigmoid,
    "tanh": hg.Tanh,
    "softmax": hg.Softmax,
    "identity": hg.Identity,
    "gelu": hg.GELU,
    "gelu_tanh": lambda: hg.GELU(approximate="tanh"),
    "silu": hg.SiLU,
}
KINKED = {"relu", "leaky_relu"}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(batch=st.integers(1, 64), features=st.integers(1, 10), seed=st.integers(0, 2**32 - 1))
def test_gradients_match_finite_differences(name, batch, features, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, features)) * 3
    if name in KINKED:  # keep finite differences off the kink at 0
        x[np.abs(x) < 1e-3] = 0.5
    report = hg.gradcheck(ACTIVATIONS[name](), x, max_checks=200)
    assert report.passed, str(report)


@pytest.mark.parametrize(
    ("layer", "f"),
    [
        (hg.ReLU(), lambda x: np.maximum(x, 0)),
        (hg.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
        (hg.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (hg.Tanh(), np.tanh),
        (hg.Identity(), lambda x: x),
        (hg.Softmax(), lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
        (hg.GELU(), lambda x: x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
        (
            hg.GELU("tanh"),
            lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        ),
        (hg.SiLU(), lambda x: x / (1 + np.exp(-x))),
    ],
)
def test_forward_values(layer, f, rng):
    x = rng.standard_normal((6, 5)) * 4
    np.testing.assert_allclose(layer(x), f(x), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_and_warning_free_at_plus_minus_1000(name, dtype):
    x = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], dtype=dtype)
    layer = ACTIVATIONS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layer(x)
        g = layer.backward(np.ones_like(x))
    assert y.dtype == dtype and g.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(g).all()


def test_saturated_values_are_exact():
    x = np.array([[-1000.0, 1000.0]])
    np.testing.assert_array_equal(hg.Sigmoid()(x), [[0.0, 1.0]])
    np.testing.assert_array_equal(hg.Tanh()(x), [[-1.0, 1.0]])
    np.testing.assert_array_equal(hg.Softmax()(x), [[0.0, 1.0]])
    np.testing.assert_array_equal(hg.GELU()(x), [[-0.0, 1000.0]])
    np.testing.assert_array_equal(hg.SiLU()(x), [[-0.0, 1000.0]])


def test_silu_backward_is_the_product_rule(rng):
    x = rng.standard_normal((4, 3)) * 3
    g = rng.standard_normal((4, 3))
    layer = hg.SiLU()
    layer(x)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(layer.backward(g), g * (s + x * s * (1 - s)), rtol=1e-13)


def test_relu_derivative_at_zero_is_zero():
    layer = hg.ReLU()
    layer(np.array([[0.0, -1.0, 2.0]]))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


def test_relu_mask_follows_the_last_forward_when_batch_size_changes(rng):
    layer = hg.ReLU()
    layer(rng.standard_normal((8, 3)))
    x = np.array([[1.0, -1.0, 2.0]])
    layer(x)
    np.testing.assert_array_equal(layer.backward(np.full((1, 3), 2.0)), [[2.0, 0.0, 2.0]])


def test_relu_output_is_not_changed_by_a_later_call():
    layer = hg.ReLU()
    y1 = layer(np.array([[1.0, 2.0]]))
    layer(np.array([[3.0, -4.0]]))
    np.testing.assert_array_equal(y1, [[1.0, 2.0]])


def test_softmax_rows_sum_to_one(rng):
    y = hg.Softmax()(rng.standard_normal((10, 7)) * 100)
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-14)


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha must be >= 0, got -1"):
        hg.LeakyReLU(-1)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        hg.GELU("fast")
    with pytest.raises(RuntimeError, match=r"Sigmoid\(\).backward called before forward"):
        hg.Sigmoid().backward(np.ones((1, 1)))
    layer = hg.Tanh()
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(2, 3\)"):
        layer.backward(np.ones((3, 2)))


def test_relu_backward_in_evaluation_mode(rng):
    x = rng.standard_normal((6, 5))
    g = rng.standard_normal((6, 5))
    train, evaluation = hg.ReLU(), hg.ReLU().eval()
    train(x)
    evaluation(x)
    np.testing.assert_array_equal(evaluation.backward(g), train.backward(g))
    assert hg.gradcheck(hg.ReLU().eval(), np.where(np.abs(x) < 1e-3, 0.5, x)).passed
