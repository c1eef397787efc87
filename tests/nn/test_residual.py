"""Residual: y = x + F(x), and the gradient along both paths."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg


def block(rng, dtype=np.float64):
    return hg.Sequential(
        [hg.Conv2D(2, 2, 3, padding="same", rng=rng, dtype=dtype), hg.ReLU(), hg.BatchNorm(2)]
    )


def test_forward_adds_the_input_to_the_branch(rng):
    res = hg.Residual(block(rng))
    x = rng.standard_normal((3, 4, 4, 2))
    branch = res.layer.forward(x)
    np.testing.assert_allclose(res(x), x + branch, rtol=1e-15)


def test_gradients_match_finite_differences(rng):
    res = hg.Residual(block(rng))
    assert hg.gradcheck(res, rng.standard_normal((3, 4, 4, 2)), max_checks=100).passed
    dense = hg.Residual(hg.Sequential([hg.Dense(3, 3, rng=rng), hg.Tanh()]))
    assert hg.gradcheck(dense, rng.standard_normal((5, 3))).passed


def test_backward_is_the_skip_plus_the_branch(rng):
    res = hg.Residual(hg.Dense(3, 3, rng=rng))
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    res(x)
    np.testing.assert_allclose(res.backward(g), g + g @ res.layer.weight.data.T, rtol=1e-14)


def test_parameters_leaves_and_modes_go_through_the_block(rng):
    res = hg.Residual(block(rng))
    assert [n for n, _ in res.named_parameters()] == [
        "layer.0.weight",
        "layer.0.bias",
        "layer.2.weight",
        "layer.2.bias",
    ]
    assert [n for n, _ in res.named_state()] == ["layer.2.running_mean", "layer.2.running_var"]
    assert [p for p, _ in res.leaves()] == ["layer.0", "layer.1", "layer.2", ""]
    with res.mode(False):
        assert not res.layer[2].training
    assert res.layer[2].training


def test_as_the_first_layer_its_input_gradient_is_skipped(rng):
    model = hg.Sequential([hg.Residual(hg.Dense(3, 3, rng=rng)), hg.Dense(3, 1, rng=rng)])
    x = rng.standard_normal((4, 3))
    model.forward(x)
    model.backward(np.ones((4, 1)))
    expected = [p.grad.copy() for p in model.parameters()]
    model.forward(x)
    model.backward_params(np.ones((4, 1)))
    for p, e in zip(model.parameters(), expected, strict=True):
        np.testing.assert_array_equal(p.grad, e)


def test_configuration_and_repr(rng):
    res = hg.Residual(hg.Sequential([hg.Dense(3, 3, rng=rng), hg.ReLU()]))
    assert repr(res) == "Residual(Dense(3→3) → ReLU())"
    assert hg.Residual.from_config(res.get_config()).layer is res.layer


def test_a_branch_that_changes_the_shape_is_refused(rng):
    res = hg.Residual(hg.Dense(3, 2, rng=rng))
    with pytest.raises(
        ValueError,
        match=r"needs its layer to keep the shape of its input, so "
        r"that x \+ F\(x\) adds up: got \(4, 2\) from \(4, 3\)",
    ):
        res(np.ones((4, 3)))
    with pytest.raises(TypeError, match="layer must be a Layer"):
        hg.Residual("dense")


@given(
    width=st.integers(1, 5),
    batch=st.integers(1, 4),
    depth=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_blocks_match_finite_differences(width, batch, depth, seed):
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(depth):
        layers += [hg.Dense(width, width, rng=rng), hg.Tanh()]
    block = hg.Residual(hg.Sequential(layers))
    assert hg.gradcheck(block, rng.standard_normal((batch, width))).passed
