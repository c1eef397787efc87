"""hg.trace: the numbers are the library's own, the formulas are there, the model is untouched."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from helpers.trace import Scale, build, plain_step
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg
from handgrad.explain import notebook
from handgrad.explain.trace import seed_trace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trace_walkthrough.py"
TOL = dict(rtol=0, atol=1e-12)


def entries_of(step, phase, path):
    return [e for e in step.entries if e.phase == phase and e.path == path]


@given(seed=st.integers(0, 2**32 - 1))
def test_every_number_is_the_one_the_library_computes(seed):
    model, x, target, loss = build(seed)
    step = hg.trace(model, x, target, loss, lr=0.05)
    twin, *_ = build(seed)
    _, outputs, value, grad_pred, grad_ins, grads = plain_step(twin, x, target, loss)

    assert step.loss_value == value
    np.testing.assert_array_equal(step["A0"], x)
    for i in range(len(model)):
        path = str(i)
        (fwd,) = entries_of(step, "forward", path)
        np.testing.assert_array_equal(fwd.result.value, outputs[i])
        bwd = entries_of(step, "backward", path)
        np.testing.assert_array_equal(bwd[-1].result.value, grad_ins[i])  # dL/d(input) is last
        for name, grad in grads[i].items():
            (entry,) = [e for e in bwd if e.result.note == f"{path}.{name}.grad"]
            np.testing.assert_array_equal(entry.result.value, grad)
    (grad_entry,) = [e for e in step.phase("loss") if e.result.symbol.startswith("dL/d")]
    np.testing.assert_array_equal(grad_entry.result.value, grad_pred)

    # The update is SGD's, on the same gradients.
    hg.SGD(twin.parameters(), lr=0.05).step()
    updates = {e.result.note: e.result.value for e in step.phase("update")}
    assert sorted(updates) == sorted(name for name, _ in twin.named_parameters())
    for name, p in twin.named_parameters():
        np.testing.assert_array_equal(updates[name], p.data)


# The notebook's network ---------------------------------------------------------------------


def test_seed_trace_forward_error_and_loss():
    step = seed_trace(lr=0.01)
    np.testing.assert_array_equal(step["A0"], [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(step["Z1"], [[3.99, 3.29, 2.59]], **TOL)
    np.testing.assert_allclose(step["A1"], [[3.99, 3.29, 2.59]], **TOL)
    np.testing.assert_allclose(step["Z2"], [[5.4552, 6.4972]], **TOL)
    np.testing.assert_allclose(step["A2"], [[5.4552, 6.4972]], **TOL)
    np.testing.assert_allclose(step["A3"], [[7.188368]], **TOL)
    assert round(float(step["p"][0, 0]), 3) == 7.188
    np.testing.assert_allclose(step["error"], [[-6.188368]], **TOL)
    np.testing.assert_allclose(step["L"], 0.5 * 6.188368**2, **TOL)
    assert step.loss_value == step["L"] and round(step.loss_value, 8) == 19.14794925
    np.testing.assert_allclose(step["dL/dp"], [[6.188368]], **TOL)


def test_seed_trace_every_gradient_follows_the_notebooks_rules():
    step = seed_trace(lr=0.01)
    model, x, _ = notebook.backprop_network()
    W1, W2, W3 = (model[k].weight.data for k in (0, 2, 4))
    A0, A1, A2 = x, np.array([[3.99, 3.29, 2.59]]), np.array([[5.4552, 6.4972]])
    dZ3 = np.array([[6.188368]])  # dL/dp, and relu′(7.19) = 1
    np.testing.assert_allclose(step["dL/dA3"], dZ3, **TOL)
    np.testing.assert_allclose(step["dL/dZ3"], dZ3, **TOL)
    np.testing.assert_allclose(step["dL/dW3"], A2.T * 6.188368, rtol=1e-13)
    np.testing.assert_allclose(step["dL/db3"], [6.188368], rtol=1e-13)
    dZ2 = (dZ3 @ W3.T) * (A2 > 0)
    np.testing.assert_allclose(step["dL/dA2"], dZ3 @ W3.T, rtol=1e-13)
    np.testing.assert_allclose(step["dL/dZ2"], dZ2, rtol=1e-13)
    np.testing.assert_allclose(step["dL/dW2"], A1.T @ dZ2, rtol=1e-13)
    np.testing.assert_allclose(step["dL/db2"], dZ2[0], rtol=1e-13)
    dZ1 = (dZ2 @ W2.T) * (A1 > 0)
    np.testing.assert_allclose(step["dL/dZ1"], dZ1, rtol=1e-13)
    np.testing.assert_allclose(step["dL/dW1"], A0.T @ dZ1, rtol=1e-13)
    np.testing.assert_allclose(step["dL/db1"], dZ1[0], rtol=1e-13)
    np.testing.assert_allclose(step["dL/dA0"], dZ1 @ W1.T, rtol=1e-13)
    # The update, w ← w − lr · dL/dw, one layer at a time
    for n, W in zip((1, 2, 3), (W1, W2, W3)):
        np.testing.assert_allclose(step[f"new W{n}"], W - 0.01 * step[f"dL/dW{n}"], rtol=1e-13)
    np.testing.assert_allclose(step["new b3"], [1.1 - 0.01 * 6.188368], rtol=1e-13)


def test_seed_trace_speaks_the_notebooks_words():
    step = seed_trace(lr=0.01)
    words = [e.words for e in step.entries]
    assert sum(w.startswith("Loss w.r.t. weight") for w in words) == 3
    assert sum(w.startswith("Loss w.r.t. bias") for w in words) == 3
    assert sum(w.startswith("Loss w.r.t. pre-activation neuron output (Z)") for w in words) == 3
    formulas = [e.formula for e in step.entries]
    assert "Z1 = A0 · W1 + b1" in formulas
    assert "dL/dW3 = A2ᵀ · dL/dZ3" in formulas
    assert "W2 ← W2 − 0.01 · dL/dW2" in formulas
    assert [e.phase for e in step.entries] == sorted(
        (e.phase for e in step.entries), key=["forward", "loss", "backward", "update"].index
    )


def test_seed_trace_without_lr_has_no_update():
    step = seed_trace(lr=None)
    assert step.lr is None and step.phase("update") == ()
    with pytest.raises(KeyError, match="no symbol 'new W1' in the trace"):
        step["new W1"]


# Formulas ------------------------------------------------------------------------------------

ACTIVATION_FORMULAS = [
    (hg.ReLU(), "A1 = max(0, Z1)", "dL/dZ1 = dL/dA1 ⊙ [Z1 > 0]"),
    (
        hg.LeakyReLU(0.2),
        "A1 = Z1 where Z1 > 0, else 0.2·Z1",
        "dL/dZ1 = dL/dA1 ⊙ (1 where Z1 > 0, else 0.2)",
    ),
    (hg.Sigmoid(), "A1 = σ(Z1) = 1 / (1 + e^(−Z1))", "dL/dZ1 = dL/dA1 ⊙ A1 ⊙ (1 − A1)"),
    (hg.Tanh(), "A1 = tanh(Z1)", "dL/dZ1 = dL/dA1 ⊙ (1 − A1²)"),
    (
        hg.Softmax(),
        "A1 = e^Z1 / Σ_j e^Z1_j, row by row",
        "dL/dZ1 = A1 ⊙ (dL/dA1 − Σ_j dL/dA1_j · A1_j)",
    ),
    (hg.Identity(), "A1 = Z1", "dL/dZ1 = dL/dA1"),
    (hg.GELU(), "A1 = Z1 · Φ(Z1)", "dL/dZ1 = dL/dA1 ⊙ (Φ(Z1) + Z1 · φ(Z1))"),
    (
        hg.GELU("tanh"),
        "A1 = ½·Z1·(1 + tanh u), u = √(2/π)·(Z1 + 0.044715·Z1³)",
        "dL/dZ1 = dL/dA1 ⊙ (½(1 + tanh u) + ½·Z1·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·Z1²))",
    ),
    (
        hg.SiLU(),
        "A1 = Z1 · σ(Z1)",
        "dL/dZ1 = dL/dA1 ⊙ σ(Z1) ⊙ (1 + Z1 ⊙ (1 − σ(Z1)))",
    ),
    (
        hg.Dropout(0.25, rng=0),
        "A1 = Z1 ⊙ M1, M1 = [U ≥ 0.25] / (1 − 0.25), U uniform in [0, 1)",
        "dL/dZ1 = dL/dA1 ⊙ M1",
    ),
]


@pytest.mark.parametrize("layer, forward, backward", ACTIVATION_FORMULAS)
def test_every_built_in_layer_has_its_formulas(rng, layer, forward, backward):
    model = hg.Sequential([hg.Dense(3, 4, rng=rng), layer, hg.Dense(4, 2, rng=rng)])
    step = hg.trace(
        model, rng.standard_normal((5, 3)), rng.integers(0, 2, 5), hg.CrossEntropyLoss()
    )
    assert all(e.formula is not None for e in step.entries)
    (fwd,) = entries_of(step, "forward", "1")
    (bwd,) = entries_of(step, "backward", "1")
    assert (fwd.formula, bwd.formula) == (forward, backward)
    assert bwd.result.symbol == "dL/dZ1"
    dense = [e.formula for e in entries_of(step, "backward", "2")]
    assert dense == ["dL/dW2 = A1ᵀ · dL/dZ2", "dL/db2 = Σ_samples dL/dZ2", "dL/dA1 = dL/dZ2 · W2ᵀ"]
    assert entries_of(step, "forward", "2")[0].formula == "Z2 = A1 · W2 + b2"


@pytest.mark.parametrize("layer", [a[0] for a in ACTIVATION_FORMULAS])
def test_every_entry_works_any_element_out_and_agrees_with_the_layer(rng, layer):
    model = hg.Sequential([hg.Dense(3, 4, rng=rng), layer, hg.Dense(4, 3, rng=rng)])
    x = rng.standard_normal((5, 3))
    step = hg.trace(model, x, rng.integers(0, 3, 5), hg.CrossEntropyLoss(), lr=0.1)
    for e in step.entries:
        if e.path is None and e.phase == "forward":  # the input: nothing to work out
            continue
        assert e.worked is not None and e.explain is not None, e.formula
        assert e.worked.value == pytest.approx(e.worked.computed, rel=1e-9, abs=1e-12), e.formula
        # Any element, not only the one shown: the last one of the result.
        last = tuple(d - 1 for d in e.result.shape)
        w = e.explain(last)
        assert w.index == last
        assert w.value == pytest.approx(float(e.result.value[last]), rel=1e-9, abs=1e-12)


def test_the_dropout_mask_is_shown_and_used_by_the_worked_element(rng):
    model = hg.Sequential([hg.Dense(3, 6, rng=rng), hg.Dropout(0.5, rng=1)])
    step = hg.trace(model, rng.standard_normal((2, 3)), np.zeros((2, 6)), hg.MSELoss())
    mask = step["M1"]
    assert set(np.unique(mask)) <= {0.0, 2.0} and 0 < np.count_nonzero(mask) < mask.size
    np.testing.assert_array_equal(step["A1"], step["Z1"] * mask)
    (fwd,) = entries_of(step, "forward", "1")
    i = tuple(int(v) for v in np.argwhere(mask == 0)[0])
    w = fwd.explain(i)
    assert w.lines[0].endswith("= 0 (dropped)") and ("M1", ((i[0], i[1]),)) in w.grid


def test_a_classifier_trace_states_target_and_predicted_class_and_probabilities(rng):
    model = hg.Sequential([hg.Dense(3, 4, rng=rng)])
    x = rng.standard_normal((2, 3))
    logits = model.predict(x)
    y = np.array([0, int(np.argmax(logits[1]))])
    facts = dict(hg.trace(model, x, y, hg.CrossEntropyLoss()).facts())
    p = np.exp(logits[1] - logits[1].max())
    p /= p.sum()
    assert facts["sample 1"].startswith(f"target class {y[1]}, predicted class {y[1]} (right)")
    assert f"{y[1]}: {p[y[1]]:.3f}" in facts["sample 1"]
    verdict = "right" if np.argmax(logits[0]) == 0 else "wrong"
    assert f"predicted class {np.argmax(logits[0])} ({verdict})" in facts["sample 0"]


@pytest.mark.parametrize("training, why", [(False, "evaluation mode"), (True, "p = 0")])
def test_dropout_that_is_off_says_why(rng, training, why):
    p = 0.5 if not training else 0.0
    model = hg.Sequential([hg.Dense(3, 2, rng=rng), hg.Dropout(p, rng=0)])
    x = rng.standard_normal((4, 3))
    step = hg.trace(model, x, np.zeros((4, 2)), hg.MSELoss(), training=training)
    (fwd,) = entries_of(step, "forward", "1")
    assert fwd.formula == "A1 = Z1" and why in fwd.words
    np.testing.assert_array_equal(step["A1"], step["Z1"])


LOSSES = [
    (hg.MSELoss(), np.ones((4, 2)), "L = 1/(2N) · Σ (p − a)², N = 8", "dL/dp = (p − a) / N, N = 8"),
    (
        hg.CrossEntropyLoss(),
        np.array([0, 1, 1, 0]),
        "L = 1/n · Σ_i (logsumexp(z_i) − Σ_c Y_ic · z_ic), n = 4",
        "dL/dz = (softmax(z) − Y) / n, n = 4",
    ),
    (
        hg.BCEWithLogitsLoss(),
        np.full((4, 2), 0.5),
        "L = 1/N · Σ (max(z, 0) − z·y + log(1 + e^(−|z|))), N = 8",
        "dL/dz = (σ(z) − y) / N, N = 8",
    ),
]


@pytest.mark.parametrize("loss, target, value, grad", LOSSES)
def test_losses_have_their_formulas_and_the_fused_ones_say_so(rng, loss, target, value, grad):
    model = hg.Sequential([hg.Dense(3, 2, rng=rng)])
    step = hg.trace(model, rng.standard_normal((4, 3)), target, loss)
    formulas = [e.formula for e in step.phase("loss")]
    assert formulas[0] == value and formulas[-1] == grad
    fused = "Fused" in step.phase("loss")[-1].words
    assert fused == (not isinstance(loss, hg.MSELoss))
    grad_symbol = step.phase("loss")[-1].result.symbol
    assert step.phase("backward")[0].operands[-1].symbol == "dL/dZ1"
    np.testing.assert_array_equal(step[grad_symbol], step["dL/dZ1"])


def test_a_layer_of_your_own_shows_its_numbers_without_a_formula(rng):
    scale = Scale(4, rng)
    model = hg.Sequential([hg.Dense(3, 4, rng=rng), scale, hg.ReLU(), hg.Dense(4, 1, rng=rng)])
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    step = hg.trace(model, x, y, hg.MSELoss())
    mine = [e for e in step.entries if e.path == "1"]
    assert [e.phase for e in mine] == ["forward", "backward", "backward"]
    assert all(e.formula is None for e in mine)
    assert all(e.formula_text == "formula: not available for Scale" for e in mine)
    assert [e.result.symbol for e in mine] == ["Y2", "dL/ds2", "dL/dZ1"]
    # Its own numbers: what its forward and backward return, given what they received
    Z1 = x @ model[0].weight.data + model[0].bias.data
    np.testing.assert_array_equal(step["Y2"], scale.forward(Z1))
    dY = step["dL/dY2"]
    np.testing.assert_array_equal(step["dL/dZ1"], scale.backward(dY))
    np.testing.assert_array_equal(step["dL/ds2"], (dY * Z1).sum(axis=0))
    np.testing.assert_array_equal(mine[0].operands[1].value, scale.s.data)
    assert mine[0].operands[1].symbol == "s2"
    # The layers after it keep their formulas, numbered after it
    assert entries_of(step, "forward", "2")[0].formula == "A2 = max(0, Y2)"


def test_a_subclass_that_rewrites_backward_is_a_layer_of_its_own(rng):
    class Clipped(hg.ReLU):
        def backward(self, grad_out):
            return np.clip(super().backward(grad_out), -1, 1)

    model = hg.Sequential([hg.Dense(3, 2, rng=rng), Clipped(), hg.ReLU()])
    step = hg.trace(model, rng.standard_normal((2, 3)), np.zeros((2, 2)), hg.MSELoss())
    assert entries_of(step, "forward", "1")[0].formula_text == "formula: not available for Clipped"
    assert entries_of(step, "forward", "2")[0].formula == "A1 = max(0, Y1)"


def test_a_loss_of_your_own_has_its_numbers_without_a_formula(rng):
    class L1(hg.MSELoss):
        def _forward(self, pred, target):
            self._cache = np.sign(pred - target) / pred.size
            return float(np.abs(pred - target).mean())

        def backward(self):
            return self._cached()

    model = hg.Sequential([hg.Dense(3, 1, rng=rng)])
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 1))
    step = hg.trace(model, x, y, L1())
    entries = step.phase("loss")
    assert [e.formula_text for e in entries] == ["formula: not available for L1"] * 2
    np.testing.assert_array_equal(step["dL/dp"], np.sign(model(x) - y) / 4)


def test_nested_sequentials_are_opened_up(rng):
    inner = hg.Sequential([hg.Dense(4, 4, rng=rng), hg.Tanh()])
    model = hg.Sequential([hg.Dense(3, 4, rng=rng), hg.ReLU(), inner, hg.Dense(4, 1, rng=rng)])
    step = hg.trace(model, rng.standard_normal((3, 3)), np.zeros((3, 1)), hg.MSELoss(), lr=0.1)
    assert [p for p, _ in step.layers] == ["0", "1", "2.0", "2.1", "3"]
    assert entries_of(step, "forward", "2.1")[0].formula == "A2 = tanh(Z2)"
    assert {e.result.note for e in step.phase("update")} >= {"2.0.weight", "2.0.bias"}


def test_float32_models_are_traced_in_float32(rng):
    model = hg.Sequential([hg.Dense(3, 2, rng=rng, dtype=np.float32), hg.Sigmoid()])
    x = rng.standard_normal((4, 3)).astype(np.float32)
    step = hg.trace(model, x, np.zeros((4, 2)), hg.MSELoss(), lr=0.1)
    assert step.dtype == "float32"
    assert step["dL/dW1"].dtype == np.float32 and step["new W1"].dtype == np.float32
    np.testing.assert_array_equal(step["A1"], model(x))


def test_one_layer_type_is_traced_at_each_place(rng):
    # One Tanh object in both places is refused by Sequential (it would back-propagate wrongly).
    model = hg.Sequential([hg.Dense(2, 2, rng=rng), hg.Tanh(), hg.Dense(2, 2, rng=rng), hg.Tanh()])
    x = rng.standard_normal((3, 2))
    step = hg.trace(model, x, np.zeros((3, 2)), hg.MSELoss())
    np.testing.assert_array_equal(step["A1"], np.tanh(step["Z1"]))
    np.testing.assert_array_equal(step["A2"], model(x))


def test_a_network_without_parameters_has_no_update(rng):
    x = rng.standard_normal((2, 3))
    step = hg.trace(hg.Sequential([hg.Tanh()]), x, np.zeros((2, 3)), hg.MSELoss(), lr=0.1)
    assert step.phase("update") == () and step.lr == 0.1
    np.testing.assert_array_equal(step["A0′"], np.tanh(x))  # no layer numbered yet
    assert "update: none (the network has no parameters)" in step.to_text()
    empty = hg.trace(hg.Sequential([]), x, np.zeros((2, 3)), hg.MSELoss(), lr=0.1)
    assert [e.phase for e in empty.entries] == ["forward", "loss", "loss", "loss"]
    np.testing.assert_array_equal(empty["dL/dp"], x / 6)


# The Trace object ----------------------------------------------------------------------------


def test_trace_values_are_read_only_copies():
    model, x, target = notebook.backprop_network()
    step = hg.trace(model, x, target, hg.MSELoss())
    with pytest.raises(ValueError, match="read-only"):
        step["W1"][0, 0] = 5.0
    model[0].weight.data[0, 0] = 5.0
    assert step["W1"][0, 0] == 0.3


def test_trace_phase_and_symbols():
    step = seed_trace(lr=0.01)
    assert [e.result.symbol for e in step.phase("forward")][:3] == ["A0", "Z1", "A1"]
    assert step.symbols()[:5] == ["A0", "W1", "b1", "Z1", "A1"]
    with pytest.raises(ValueError, match=r"phase must be one of \('forward'.*got 'back'"):
        step.phase("back")


def test_bad_arguments_are_named(rng):
    model = hg.Sequential([hg.Dense(3, 1, rng=rng)])
    x, y, loss = rng.standard_normal((2, 3)), np.zeros((2, 1)), hg.MSELoss()
    with pytest.raises(TypeError, match=r"model must be a hg\.Sequential, got a Dense"):
        hg.trace(model[0], x, y, loss)
    with pytest.raises(
        TypeError, match=r"loss must be a hg.Loss \(e.g. hg.MSELoss\(\)\), got 'mse' \(str\)"
    ):
        hg.trace(model, x, y, "mse")
    with pytest.raises(ValueError, match=r"x must be a batch of rows, shape \(batch, features\)"):
        hg.trace(model, x[0], y, loss)
    with pytest.raises(ValueError, match=r"x is empty: trace needs at least one row"):
        hg.trace(model, x[:0], y, loss)
    with pytest.raises(ValueError, match="lr must be > 0, got 0"):
        hg.trace(model, x, y, loss, lr=0)
    with pytest.raises(TypeError, match=r"training must be True or False, got 'yes' \(str\)"):
        hg.trace(model, x, y, loss, training="yes")
    with pytest.raises(ValueError, match=r"MSELoss expected a target of shape \(n, 1\)"):
        hg.trace(model, x, np.zeros((2, 3)), loss)


# The walk-through ----------------------------------------------------------------------------


def load_example():
    spec = importlib.util.spec_from_file_location("trace_walkthrough_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv", [["--synthetic"], []])
def test_the_walkthrough_runs_and_finds_what_it_says(argv, tmp_path, capsys):
    if not argv:
        pytest.importorskip("sklearn")  # installed by the dev extra, so CI runs this
    figures = load_example().main([*argv, "--html", str(tmp_path / "step.html")])
    out = capsys.readouterr().out
    assert figures["data"] == ("synthetic" if argv else "digits")
    assert "[[3.99  3.29  2.59]]" in out and "[[-6.188368]]" in out
    assert figures["accuracy"] > 0.9
    assert figures["before"].healthy and figures["after"].healthy
    broken = figures["broken"]
    assert broken["1"].flags == ("dead",) and broken["1"].dead_fraction == 1.0
    assert broken["0"].flags == ("vanishing",) and broken["0"].grad_norm == 0.0
    assert (tmp_path / "step.html").read_text("utf-8").startswith("<!DOCTYPE html>")


# Networks on images ----------------------------------------------------------------------------


def image_network(rng):
    block = hg.Sequential([hg.Conv2D(3, 3, 3, padding="same", rng=rng), hg.ReLU()])
    return hg.Sequential(
        [
            hg.Conv2D(2, 3, 3, padding=1, rng=rng),
            hg.BatchNorm(3),
            hg.ReLU(),
            hg.MaxPool2D(2),
            hg.Residual(block),
            hg.AvgPool2D(2, 1),
            hg.LayerNorm(3),
            hg.Flatten(),
            hg.Dense(3, 8, rng=rng),
            hg.Reshape((8, 1)),
            hg.Conv1D(1, 2, 3, stride=2, padding=1, rng=rng),
            hg.MaxPool1D(2),
            hg.AvgPool1D(1),
            hg.GlobalAvgPool(),
            hg.Dense(2, 3, rng=rng),
        ]
    )


@pytest.mark.parametrize("training", [True, False])
def test_every_new_layer_works_one_element_out_and_agrees_with_itself(rng, training):
    model = image_network(rng)
    for _, layer in model.leaves():
        if hasattr(layer, "bias") and isinstance(layer.bias, hg.Parameter):
            layer.bias.data[...] = rng.standard_normal(layer.bias.shape)
    x, y = rng.standard_normal((3, 4, 4, 2)), np.array([0, 2, 1])
    step = hg.trace(model, x, y, hg.CrossEntropyLoss(), lr=0.1, training=training)
    worked = {}
    for e in step.phase("forward"):  # each layer's output: its first forward entry
        if e.worked is not None:
            worked.setdefault(e.path, e.worked)
    assert set(worked) == {path for path, _ in model.leaves()}
    for path, w in worked.items():
        assert w.value == pytest.approx(w.computed, rel=1e-12, abs=1e-12), path
        assert w.element.startswith(
            next(e for e in step.phase("forward") if e.path == path).result.symbol
        )
    conv = worked["0"]
    assert conv.element == "Z1[0, 1, 1, 1]"  # the first sample, the middle of every other axis
    assert conv.cells == (("A0", "[0, 0:3, 0:3, :]"), ("W1", "[:, :, :, 1]"), ("b1", "[1]"))
    assert [part.shape for part in conv.parts] == [(9, 2), (9, 2)]  # window and kernel


def test_a_residual_block_shows_its_layers_then_the_addition(rng):
    model = image_network(rng)
    step = hg.trace(model, rng.standard_normal((2, 4, 4, 2)), [0, 1], hg.CrossEntropyLoss())
    [add] = [e for e in step.phase("forward") if e.path == "4"]
    inner_first = next(e for e in step.phase("forward") if e.path == "4.layer.0")
    inner_last = [e for e in step.phase("forward") if e.path == "4.layer.1"][-1]
    x_symbol = inner_first.operands[0].symbol
    assert add.formula == f"{add.result.symbol} = {x_symbol} + {inner_last.result.symbol}"
    np.testing.assert_allclose(
        add.result.value, step[x_symbol] + step[inner_last.result.symbol], rtol=1e-15
    )
    [back] = [e for e in step.phase("backward") if e.path == "4"]
    assert (
        back.formula == f"dL/d{x_symbol} = dL/d{add.result.symbol} + dL/d{x_symbol} (through [4])"
    )
    branch = step[f"dL/d{x_symbol} (through [4])"]
    np.testing.assert_allclose(back.result.value, step[f"dL/d{add.result.symbol}"] + branch)
    order = [e.path for e in step.phase("backward")]
    assert order.index("4") < order.index("4.layer.1") < order.index("4.layer.0")


def test_batch_norms_running_statistics_are_shown_and_left_as_they_were(rng):
    model = hg.Sequential([hg.Dense(3, 4, rng=rng), hg.BatchNorm(4), hg.Dense(4, 2, rng=rng)])
    before = [s.data.copy() for _, s in model.named_state()]
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    step = hg.trace(model, x, y, hg.CrossEntropyLoss(), lr=0.1)
    entries = [e for e in step.phase("forward") if e.path == "1"]
    assert [e.result.symbol for e in entries] == ["Y2", "new μ_run2", "new σ²_run2"]
    z = step["Z1"]
    np.testing.assert_allclose(step["new μ_run2"], 0.9 * 0 + 0.1 * z.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(
        step["new σ²_run2"], 0.9 * 1 + 0.1 * z.var(axis=0, ddof=1), rtol=1e-13
    )
    for (_, s), b in zip(model.named_state(), before, strict=True):
        np.testing.assert_array_equal(s.data, b)
    evaluation = hg.trace(model, x, y, hg.CrossEntropyLoss(), training=False)
    [norm] = [e for e in evaluation.phase("forward") if e.path == "1"]
    assert "μ_run2" in norm.formula and [t.symbol for t in norm.operands][1:3] == [
        "μ_run2",
        "σ²_run2",
    ]


def test_relu_and_max_pool_show_as_the_two_layers_they_are(rng):
    model = hg.Sequential(
        [hg.Conv2D(1, 2, 3, padding=1, rng=rng), hg.ReLU(), hg.MaxPool2D(2), hg.Flatten(),
         hg.Dense(8, 2, rng=rng)]
    )  # fmt: skip
    x = rng.standard_normal((2, 4, 4, 1))
    step = hg.trace(model, x, [0, 1], hg.CrossEntropyLoss())
    assert [e.kind for e in step.phase("forward")][1:4] == ["Conv2D", "ReLU", "MaxPool2D"]
    np.testing.assert_array_equal(step["A1"], np.maximum(step["Z1"], 0))
    # after the trace, the convolution, ReLU and pool run as one pass again
    assert [len(chain) for _, chain in model._units()] == [2, 0, 0]


def test_several_steps_are_consecutive_and_the_model_is_left_as_it_was():
    model, x, target = notebook.backprop_network()
    before = [p.data.copy() for p in model.parameters()]
    step = hg.trace(model, x, target, hg.MSELoss(), lr=0.01, steps=4)
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)
    assert len(step.steps) == 4 and step.steps[0] is step
    # each step starts from the weights the previous update left
    for k in range(3):
        np.testing.assert_array_equal(step.steps[k + 1]["W1"], step.steps[k]["new W1"])
    # the same losses as four real steps of training
    history = model.fit(
        x, target, loss=hg.MSELoss(), optimizer=hg.SGD(model.parameters(), lr=0.01),
        epochs=4, batch_size=1,
    )  # fmt: skip
    assert step.losses == history.loss
    assert step.losses[0] == pytest.approx(19.14794925, abs=1e-8)
    assert "steps:" in step.to_text() and "4 consecutive steps" in step.to_text()
    with pytest.raises(ValueError, match="steps=3 needs lr"):
        hg.trace(model, x, target, hg.MSELoss(), steps=3)
    with pytest.raises(ValueError, match="steps"):
        hg.trace(model, x, target, hg.MSELoss(), lr=0.1, steps=0)


def test_several_steps_draw_new_dropout_masks_and_give_the_generator_back(rng):
    model = hg.Sequential(
        [hg.Dense(3, 8, rng=rng), hg.Dropout(0.5, rng=3), hg.Dense(8, 1, rng=rng)]
    )
    state = model[1].rng.bit_generator.state
    step = hg.trace(model, np.ones((2, 3)), np.zeros((2, 1)), hg.MSELoss(), lr=0.1, steps=2)
    assert not np.array_equal(step.steps[0]["M1"], step.steps[1]["M1"])
    assert model[1].rng.bit_generator.state == state
    single = hg.trace(model, np.ones((2, 3)), np.zeros((2, 1)), hg.MSELoss(), lr=0.1)
    np.testing.assert_array_equal(single["M1"], step["M1"])


@pytest.mark.parametrize("training", [True, False])
def test_every_element_of_every_entry_of_an_image_network_is_worked_out_exactly(rng, training):
    model = hg.Sequential(
        [hg.Conv2D(2, 3, 3, padding=1, stride=2, rng=rng), hg.BatchNorm(3), hg.ReLU(),
         hg.MaxPool2D(2, stride=1), hg.Residual(hg.Sequential([hg.Conv2D(3, 3, (3, 2),
         padding="same", rng=rng), hg.ReLU()])), hg.AvgPool2D(2, stride=1), hg.LayerNorm(3),
         hg.GlobalAvgPool(), hg.Dense(3, 4, rng=rng), hg.Reshape((4, 1)), hg.Conv1D(1, 2, 2,
         rng=rng), hg.MaxPool1D(2), hg.AvgPool1D(1), hg.Flatten(), hg.Dense(2, 2, rng=rng)]
    )  # fmt: skip
    for _, state in model.named_state():
        state.data[...] = rng.random(state.shape) + 0.5
    x = rng.standard_normal((2, 5, 5, 2))
    step = hg.trace(model, x, [0, 1], hg.CrossEntropyLoss(), lr=0.1, training=training)
    for e in step.entries:
        if e.path is None and e.phase == "forward":
            continue
        assert e.explain is not None, e.formula
        for index in np.ndindex(*e.result.shape):
            w = e.explain(index)
            assert w.value == pytest.approx(float(e.result.value[index]), rel=1e-9, abs=1e-12), (
                e.formula,
                index,
            )
