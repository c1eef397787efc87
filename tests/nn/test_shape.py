"""Flatten and Reshape: the values in row-major order, and back."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg


def test_flatten_orders_channels_last_features_h_w_c(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    y = hg.Flatten()(x)
    assert y.shape == (2, 60)
    assert y[1, (2 * 4 + 1) * 5 + 3] == x[1, 2, 1, 3]
    assert np.shares_memory(y, x)  # a view: nothing copied


@pytest.mark.parametrize("layer", [hg.Flatten(), hg.Reshape((4, 5)), hg.Reshape((-1, 2))])
def test_the_gradient_goes_back_to_where_each_value_came_from(layer, rng):
    x = rng.standard_normal((3, 20))
    assert hg.gradcheck(layer, x).passed
    g = rng.standard_normal(layer(x).shape)
    np.testing.assert_array_equal(layer.backward(g), g.reshape(x.shape))


def test_reshape_turns_flat_rows_into_images_and_takes_them_as_images_too(rng):
    layer = hg.Reshape((28, 28, 1))
    x = rng.standard_normal((2, 784))
    np.testing.assert_array_equal(layer(x), x.reshape(2, 28, 28, 1))
    np.testing.assert_array_equal(layer(x.reshape(2, 28, 28, 1)), x.reshape(2, 28, 28, 1))
    assert hg.Reshape((-1, 4))(x).shape == (2, 196, 4)


def test_configuration_and_repr():
    layer = hg.Reshape((28, 28, 1))
    assert layer.get_config() == {"shape": [28, 28, 1]}
    assert repr(hg.Reshape.from_config(layer.get_config())) == "Reshape((28, 28, 1))"
    assert repr(hg.Flatten()) == "Flatten()"


@pytest.mark.parametrize(
    ("make", "x", "error", "message"),
    [
        (
            lambda: hg.Reshape((28, 28, 1)),
            np.zeros((4, 780)),
            ValueError,
            r"Reshape\(\(28, 28, 1\)\) expected rows of 784 values, got shape \(4, 780\)",
        ),
        (
            lambda: hg.Reshape((-1, 3)),
            np.zeros((4, 10)),
            ValueError,
            r"expected rows of a multiple of 3 values, got shape \(4, 10\)",
        ),
        (lambda: hg.Flatten(), np.zeros(5), ValueError, r"expected a batch \(batch, …\)"),
    ],
)
def test_bad_input_is_named(make, x, error, message):
    with pytest.raises(error, match=message):
        make()(x)


@pytest.mark.parametrize(
    ("shape", "error", "message"),
    [
        ((28, 0), ValueError, "shape must hold positive sizes"),
        ((-1, -1), ValueError, "shape may hold one -1"),
        ("28x28", TypeError, "shape must be a tuple of ints"),
        ((2.5,), TypeError, "shape must be a tuple of ints"),
    ],
)
def test_bad_shapes_are_named(shape, error, message):
    with pytest.raises(error, match=message):
        hg.Reshape(shape)


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_flatten_and_reshape_gradients_match_finite_differences(shape, batch, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *shape))
    assert hg.gradcheck(hg.Flatten(), x).passed
    assert hg.gradcheck(hg.Reshape((-1, shape[0])), x).passed
