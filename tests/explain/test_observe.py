"""Observing a step through hg.trace leaves the model as it was, even when a layer raises."""

import numpy as np
import pytest
from helpers.trace import build, plain_step
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg


@given(seed=st.integers(0, 2**32 - 1))
def test_the_model_is_left_as_it_was(seed):
    model, x, target, loss = build(seed)
    for p in model.parameters():
        p.grad[...] = 7.0  # gradients from "an earlier step", which the trace must not lose
    before = [(p, p.data, p.data.copy(), p.grad) for p in model.parameters()]
    model.layers[0].eval()  # a mixed mode, to be restored layer by layer
    hg.trace(model, x, target, loss, lr=0.1)
    for p, data, values, grad in before:
        assert p.data is data and p.grad is grad
        np.testing.assert_array_equal(p.data, values)
        assert (p.grad == 7.0).all()
    assert model.layers[0].training is False
    assert all(layer.training for layer in model.layers[1:])
    for layer in model.layers:
        assert "forward" not in vars(layer) and "backward" not in vars(layer)

    # Dropout's generator is back where it was: a plain step now is the traced step.
    twin, *_ = build(seed)
    twin.layers[0].eval()
    _, outputs, *_ = plain_step(model, x, target, loss)
    _, expected, *_ = plain_step(twin, x, target, loss)
    for got, want in zip(outputs, expected):
        np.testing.assert_array_equal(got, want)


def test_an_optimizer_built_before_the_trace_still_drives_the_model(rng):
    model = hg.Sequential([hg.Dense(3, 4, rng=rng), hg.Tanh(), hg.Dense(4, 2, rng=rng)])
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    optimizer = hg.Adam(model.parameters(), lr=0.1)  # its flat buffers now hold the weights
    views = [p.data for p in model.parameters()]
    hg.trace(model, x, y, hg.CrossEntropyLoss(), lr=0.5)
    assert all(p.data is v for p, v in zip(model.parameters(), views))
    loss = hg.CrossEntropyLoss()
    first = loss.forward(model(x), y)
    for _ in range(5):
        loss.forward(model(x), y)
        model.backward(loss.backward())
        optimizer.step()
    assert loss.forward(model(x), y) < first


def test_a_layer_that_raises_still_leaves_the_model_as_it_was(rng):
    class Broken(hg.Identity):
        def backward(self, grad_out):
            raise ArithmeticError("broken on purpose")

    model = hg.Sequential([hg.Dense(3, 2, rng=rng), Broken(), hg.Dropout(0.5, rng=1)])
    values = [p.data.copy() for p in model.parameters()]
    state = model.layers[2].rng.bit_generator.state
    model.eval()
    with pytest.raises(ArithmeticError, match="broken on purpose"):
        hg.trace(model, rng.standard_normal((2, 3)), np.zeros((2, 2)), hg.MSELoss(), lr=1.0)
    for p, v in zip(model.parameters(), values):
        np.testing.assert_array_equal(p.data, v)
    assert not any(layer.training for layer in model.layers) and not model.training
    assert model.layers[2].rng.bit_generator.state == state
    assert all("forward" not in vars(layer) for layer in model.layers)


def test_a_layer_that_returns_no_array_is_named(rng):
    class Lists(hg.Identity):
        def forward(self, x):
            return super().forward(x).tolist()

    model = hg.Sequential([hg.Dense(3, 1, rng=rng), Lists()])
    with pytest.raises(TypeError, match=r"Lists.forward must return an ndarray \(its output\)"):
        hg.trace(model, rng.standard_normal((2, 3)), np.zeros((2, 1)), hg.MSELoss())
    assert "forward" not in vars(model[1])
