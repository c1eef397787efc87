"""The seed notebook's figures, through handgrad's API, asserted in float64 to 1e-12."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import handgrad as hg
from handgrad.explain import notebook

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed_notebook.py"
TOL = dict(rtol=0, atol=1e-12)


def load_example():
    spec = importlib.util.spec_from_file_location("seed_notebook_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_single_neuron_matches_the_notebooks_formula_for_the_seeded_draws():
    model, x = notebook.single_neuron(np.random.default_rng(7))
    draws = np.random.default_rng(7)
    w, b, inp = draws.random(), draws.integers(1, 10), draws.integers(1, 100)
    assert x[0, 0] == inp
    np.testing.assert_allclose(model(x)[0, 0], max(0.0, w * inp + b), **TOL)


def test_single_neuron_is_reproducible_from_the_seed():
    a, xa = notebook.single_neuron(np.random.default_rng(3))
    b, xb = notebook.single_neuron(np.random.default_rng(3))
    assert np.array_equal(a(xa), b(xb))


def test_layer_of_neurons():
    model, x = notebook.layer_of_neurons()
    np.testing.assert_allclose(model(x)[0], [5.6, 6.89, 8.07], **TOL)


def test_forward_network_layer_by_layer():
    model, x = notebook.forward_network()
    np.testing.assert_allclose(model[:2](x)[0], [9.12, 10.384, 11.045], **TOL)
    np.testing.assert_allclose(model[:4](x)[0], [11.3353, 21.645588], **TOL)
    np.testing.assert_allclose(model(x)[0, 0], 30.37543, **TOL)


def test_backprop_network_forward_and_error():
    model, x, target = notebook.backprop_network()
    np.testing.assert_allclose(model[:2](x)[0], [3.99, 3.29, 2.59], **TOL)
    np.testing.assert_allclose(model[:4](x)[0], [5.4552, 6.4972], **TOL)
    p = model(x)[0, 0]
    np.testing.assert_allclose(p, 7.188368, **TOL)
    assert round(p, 3) == 7.188
    np.testing.assert_allclose(target[0, 0] - p, -6.188368, **TOL)


def test_backprop_gradients_match_the_notebooks_formulas_by_hand():
    """The notebook's written-out rules, evaluated directly, against what backward produced."""
    model, x, target = notebook.backprop_network()
    loss = hg.MSELoss()
    value = loss.forward(model(x), target)
    model.backward(loss.backward())
    A0, A1, A2 = x[0], np.array([3.99, 3.29, 2.59]), np.array([5.4552, 6.4972])
    p, a = 7.188368, 1.0
    np.testing.assert_allclose(value, 0.5 * (a - p) ** 2, **TOL)
    dZ3 = np.array([p - a])  # dL/dp, and relu'(7.19) = 1
    W3 = model[4].weight.data
    dZ2 = (dZ3 @ W3.T) * (A2 > 0)
    W2 = model[2].weight.data
    dZ1 = (dZ2 @ W2.T) * (A1 > 0)
    np.testing.assert_allclose(model[4].weight.grad, np.outer(A2, dZ3), rtol=1e-13)
    np.testing.assert_allclose(model[4].bias.grad, dZ3, rtol=1e-13)
    np.testing.assert_allclose(model[2].weight.grad, np.outer(A1, dZ2), rtol=1e-13)
    np.testing.assert_allclose(model[2].bias.grad, dZ2, rtol=1e-13)
    np.testing.assert_allclose(model[0].weight.grad, np.outer(A0, dZ1), rtol=1e-13)
    np.testing.assert_allclose(model[0].bias.grad, dZ1, rtol=1e-13)
    np.testing.assert_allclose(model[4].weight.grad[:, 0], [5.4552 * 6.188368, 6.4972 * 6.188368])


@pytest.fixture(scope="module")
def figures():
    return load_example().cell_4_backpropagation()


def test_example_prints_the_notebooks_figures(figures):
    np.testing.assert_allclose(figures["A1"], [3.99, 3.29, 2.59], **TOL)
    np.testing.assert_allclose(figures["A2"], [5.4552, 6.4972], **TOL)
    np.testing.assert_allclose(figures["p"], [7.188368], **TOL)
    np.testing.assert_allclose(figures["error"], [-6.188368], **TOL)
    np.testing.assert_allclose(figures["dL/dp"], [6.188368], **TOL)
    np.testing.assert_allclose(figures["dL/dZ3"], [6.188368], **TOL)
    np.testing.assert_allclose(figures["dL/dZ2"], 6.188368 * np.array([0.33, 0.66]), **TOL)


def test_example_update_is_w_minus_lr_times_gradient(figures):
    model, x, target = notebook.backprop_network()
    loss = hg.MSELoss()
    loss.forward(model(x), target)
    model.backward(loss.backward())
    lr = load_example().LEARNING_RATE
    for k, n in ((0, 1), (2, 2), (4, 3)):
        expected_w = model[k].weight.data - lr * model[k].weight.grad
        np.testing.assert_allclose(figures[f"W{n} updated"], expected_w, **TOL)
        expected_b = model[k].bias.data - lr * model[k].bias.grad
        np.testing.assert_allclose(figures[f"b{n} updated"], expected_b, **TOL)


def test_example_every_printed_gradient_passes_gradcheck(figures):
    assert figures["gradcheck passed"][0]


def test_example_training_brings_the_prediction_to_the_target(figures):
    assert figures["loss trained"][0] < 1e-8
    np.testing.assert_allclose(figures["p trained"], [1.0], atol=1e-3)


def test_example_script_runs_and_prints_each_cell():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, check=True
    ).stdout
    for text in (
        "[5.6  6.89 8.07]",
        "[ 9.12  10.384 11.045]",
        "[11.3353   21.645588]",
        "[30.37543]",
        "[3.99 3.29 2.59]",
        "[5.4552 6.4972]",
        "[7.188368]",
        "[-6.188368]",
        "PASSED",
    ):
        assert text in out, text
    assert "FAILED" not in out
