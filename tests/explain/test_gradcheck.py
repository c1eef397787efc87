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


class MyDense(hg.Layer):
    """A learner's dense layer with one of the usual mistakes, by name."""

    def __init__(self, mistake, rng):
        self.mistake = mistake
        self.weight = hg.Parameter(rng.standard_normal((3, 3)))
        self.bias = hg.Parameter(rng.standard_normal(3))

    def forward(self, x):
        self.x = x
        return x @ self.weight.data + self.bias.data

    def backward(self, grad_out):
        dW = self.x.T @ grad_out
        if self.mistake == "transposed":
            dW = dW.T
        elif self.mistake == "sign":
            dW = -dW
        elif self.mistake == "times n":
            dW = dW * len(self.x)
        self.weight.grad[...] = dW
        self.bias.grad[...] = grad_out.sum(axis=0)
        return grad_out @ self.weight.data.T


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        ("transposed", "weight: it is the transpose of the true gradient"),
        ("sign", "weight: it is the true gradient with the wrong sign"),
        ("times n", "weight: it is 5 times the true gradient: the 1/n of the mean is missing"),
    ],
)
def test_the_usual_mistakes_are_named(rng, mistake, hint):
    layer = MyDense(mistake, rng)
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    report = hg.gradcheck(layer, x, hg.CrossEntropyLoss(), y)
    assert not report.passed and report["bias"].passed and report["input"].passed
    assert [h[: len(hint)] for h in report.hints] == [hint]
    assert f"likely: {hint}" in str(report)


def test_a_correct_layer_has_no_hint(rng):
    report = hg.gradcheck(MyDense("none", rng), rng.standard_normal((5, 3)))
    assert report.passed and report.hints == ()


def test_a_gradient_of_the_wrong_shape_is_a_problem(rng):
    class Transposed(hg.Dense):
        def backward(self, grad_out):
            self.weight.grad = grad_out.T @ self._x  # dZᵀ · X: (2, 3) for a (3, 2) weight
            self.bias.grad[...] = grad_out.sum(axis=0)
            return grad_out @ self.weight.data.T

        def forward(self, x):
            self._x = x
            return x @ self.weight.data + self.bias.data

    layer = Transposed(3, 2, rng=rng, dtype=np.float64)
    report = hg.gradcheck(layer, rng.standard_normal((5, 3)))
    assert not report.passed
    assert any("weight.grad has shape (2, 3), the parameter (3, 2)" in p for p in report.problems)
