"""Dense: x · W + b, its gradients, and the errors it names."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg

dims = st.integers(1, 12)
batches = st.integers(1, 64)


@given(batch=batches, n_in=dims, n_out=dims, seed=st.integers(0, 2**32 - 1))
def test_dense_gradients_match_finite_differences(batch, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    layer = hg.Dense(n_in, n_out, rng=rng)
    layer.bias.data[...] = rng.standard_normal(n_out)
    report = hg.gradcheck(layer, rng.standard_normal((batch, n_in)), max_checks=200)
    assert report.passed, str(report)
    assert report.max_rel_error < 1e-6


def test_dense_forward_is_x_times_w_plus_b(rng):
    layer = hg.Dense(3, 2, rng=rng)
    layer.bias.data[...] = [0.5, -1.0]
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(layer(x), x @ layer.weight.data + layer.bias.data, rtol=1e-15)


def test_dense_backward_formulas(rng):
    layer = hg.Dense(3, 2, rng=rng)
    x = rng.standard_normal((5, 3))
    dZ = rng.standard_normal((5, 2))
    layer.forward(x)
    dX = layer.backward(dZ)
    np.testing.assert_allclose(layer.weight.grad, x.T @ dZ, rtol=1e-14)
    np.testing.assert_allclose(layer.bias.grad, dZ.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(dX, dZ @ layer.weight.data.T, rtol=1e-14)


def test_backward_params_fills_the_same_gradients_without_the_input_gradient(rng):
    layer = hg.Dense(4, 3, rng=rng)
    x, dZ = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    layer.forward(x)
    layer.backward(dZ)
    expected = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer.zero_grad()
    layer.forward(x)
    assert layer.backward_params(dZ) is None
    np.testing.assert_array_equal(layer.weight.grad, expected[0])
    np.testing.assert_array_equal(layer.bias.grad, expected[1])


def test_backward_overwrites_gradients(rng):
    layer = hg.Dense(2, 2, rng=rng)
    x, dZ = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    for _ in range(3):
        layer.forward(x)
        layer.backward(dZ)
    np.testing.assert_allclose(layer.weight.grad, x.T @ dZ, rtol=1e-14)


def test_batch_size_can_change_between_calls(rng):
    layer = hg.Dense(3, 2, rng=rng)
    for batch in (7, 2, 1, 9):
        x, dZ = rng.standard_normal((batch, 3)), rng.standard_normal((batch, 2))
        layer.forward(x)
        layer.backward(dZ)
        np.testing.assert_allclose(layer.bias.grad, dZ.sum(axis=0), rtol=1e-14)
        np.testing.assert_allclose(layer.weight.grad, x.T @ dZ, rtol=1e-14)


def test_returned_arrays_belong_to_the_caller(rng):
    layer = hg.Dense(3, 2, rng=rng)
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y1 = layer(x1)
    kept = y1.copy()
    layer(x2)
    np.testing.assert_array_equal(y1, kept)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_end_to_end(dtype, rng):
    layer = hg.Dense(3, 2, rng=rng, dtype=dtype)
    assert layer.weight.data.dtype == dtype and layer.bias.grad.dtype == dtype
    y = layer(rng.standard_normal((4, 3)))  # float64 input
    assert y.dtype == dtype
    dX = layer.backward(np.ones((4, 2)))
    assert dX.dtype == dtype and layer.weight.grad.dtype == dtype


def test_integer_input_is_accepted(rng):
    layer = hg.Dense(3, 1, rng=rng)
    np.testing.assert_allclose(layer([[1, 2, 3]]), [[1.0, 2.0, 3.0]] @ layer.weight.data)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: hg.Dense(3, 2).forward(np.ones((4, 5))),
            ValueError,
            r"Dense\(3→2\) expected 3 input features, i.e. shape \(batch, 3\), got shape \(4, 5\)",
        ),
        (lambda: hg.Dense(3, 2).forward(np.ones(3)), ValueError, r"got shape \(3,\)"),
        (
            lambda: hg.Dense(3, 2).forward(np.array([["a", "b", "c"]])),
            TypeError,
            r"must be an array of numbers, got dtype <U1",
        ),
        (lambda: hg.Dense(3, 2).forward(np.ones((1, 3), complex)), TypeError, "complex"),
        (lambda: hg.Dense(0, 2), ValueError, "n_in must be >= 1, got 0"),
        (lambda: hg.Dense(2.5, 2), TypeError, r"n_in must be an integer, got 2.5 \(float\)"),
        (lambda: hg.Dense(2, 2, init="bogus"), ValueError, "init must be one of"),
        (lambda: hg.Dense(2, 2, dtype=np.int32), TypeError, "dtype must be np.float32 or"),
        (lambda: hg.Dense(2, 2, rng="seed"), TypeError, "rng must be None, an int seed or"),
        (
            lambda: hg.Dense(2, 2, init=lambda s, r: np.ones((3, 3))),
            ValueError,
            r"init returned shape \(3, 3\), expected \(2, 2\)",
        ),
        (
            lambda: hg.Dense(2, 2).backward(np.ones((1, 2))),
            RuntimeError,
            r"Dense\(2→2\).backward called before forward",
        ),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_grad_out_of_the_wrong_shape_is_refused(rng):
    layer = hg.Dense(3, 2)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(4, 2\).*got \(4, 3\)"):
        layer.backward(np.ones((4, 3)))


def test_a_layer_too_large_for_memory_says_how_much_it_needs():
    with pytest.raises(MemoryError) as info:
        hg.Dense(10, 10**12)
    # 2 · (10 + 1) · 10¹² float64 weights and gradients, and 10 · 10¹² float64 draws: 256 TB
    assert str(info.value).startswith(
        "Dense(10→1000000000000) needs 256.0 TB for its weights, their gradients and the "
        "initial draw (10 × 1,000,000,000,000 weights), and "
    )
