import numpy as np
import pytest

import handgrad as hg


class WrongBias(hg.Dense):
    """A Dense whose backward forgets to sum the bias gradient over the batch."""

    def backward(self, grad_out):
        out = super().backward(grad_out)
        self.bias.grad[...] = grad_out[0]
        return out


class Accumulating(hg.Layer):
    def __init__(self):
        self.w = hg.Parameter(np.array([2.0]))

    def forward(self, x):
        self._x = x
        return x * self.w.data

    def backward(self, grad_out):
        self.w.grad += (grad_out * self._x).sum()
        return grad_out * self.w.data


def test_a_correct_backward_passes_with_tiny_errors(rng):
    report = hg.gradcheck(hg.Dense(3, 2, rng=rng), rng.standard_normal((4, 3)))
    assert report.passed and bool(report)
    assert report.max_rel_error < 1e-8
    assert [e.name for e in report.entries] == ["weight", "bias", "input"]
    assert report["weight"].checked == 6


def test_a_wrong_backward_is_caught_and_located(rng):
    report = hg.gradcheck(WrongBias(3, 2, rng=rng), rng.standard_normal((4, 3)))
    assert not report.passed
    assert not report["bias"].passed and report["bias"].max_rel_error > 0.1
    assert report["weight"].passed and report["input"].passed
    assert "NO" in str(report) and "FAILED" in str(report)


def test_a_backward_that_adds_to_grad_is_reported(rng):
    report = hg.gradcheck(Accumulating(), rng.standard_normal((3, 1)))
    assert not report.passed
    assert any("must overwrite .grad" in p for p in report.problems)


def test_a_wrong_input_gradient_shape_is_reported(rng):
    class Bad(hg.Identity):
        def backward(self, grad_out):
            return np.ones(3)

    report = hg.gradcheck(Bad(), rng.standard_normal((2, 2)))
    assert (
        not report.passed and "expected an array of the input's shape (2, 2)" in report.problems[0]
    )


def test_checks_are_sampled_for_large_tensors_and_restore_the_layer(rng):
    layer = hg.Dense(50, 40, rng=rng)
    before = layer.weight.data.copy()
    x = rng.standard_normal((3, 50))
    report = hg.gradcheck(layer, x, max_checks=25)
    assert report["weight"].checked == 25 and report.passed
    np.testing.assert_array_equal(layer.weight.data, before)


def test_float32_layers_are_refused_with_a_hint(rng):
    with pytest.raises(
        ValueError, match="gradcheck needs float64 parameters, but weight is float32"
    ):
        hg.gradcheck(hg.Dense(2, 2, dtype=np.float32), np.ones((1, 2)))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"layer": "dense"}, TypeError, "layer must be a Layer"),
        ({"eps": 0}, ValueError, "eps must be > 0"),
        ({"loss": hg.MSELoss()}, ValueError, "give loss and target together"),
        ({"loss": "mse", "target": np.ones((1, 2))}, TypeError, "loss must be a Loss"),
        ({"x": np.array([[np.nan, 1.0]])}, ValueError, "x must be finite"),
        ({"max_checks": 0}, ValueError, "max_checks must be >= 1"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    args = {"layer": hg.Dense(2, 2, rng=0), "x": np.ones((1, 2)), **kwargs}
    with pytest.raises(error, match=message):
        hg.gradcheck(**args)
