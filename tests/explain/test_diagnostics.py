"""hg.diagnose: dead ReLUs, norms and update ratios, flagged at the documented thresholds."""

import math

import numpy as np
import pytest

import handgrad as hg
from handgrad.explain import diagnostics
from handgrad.explain.notebook import dense_from


def plain_grads(model, X, y, loss):
    loss.forward(model(X), y)
    model.backward(loss.backward())
    return {name: p.grad.copy() for name, p in model.named_parameters()}


def test_a_dead_layer_is_flagged_and_so_is_the_silence_behind_it(rng):
    dead = hg.Dense(3, 4, rng=rng)
    dead.bias.data[...] = -100.0  # no input of this scale can lift a unit above 0
    model = hg.Sequential([dead, hg.ReLU(), hg.Dense(4, 2, rng=rng)])
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 2, 50)
    d = hg.diagnose(model, X, y, hg.CrossEntropyLoss())
    relu = d["1"]
    assert (relu.dead_units, relu.units, relu.dead_fraction) == (4, 4, 1.0)
    assert relu.flags == ("dead",)
    assert d["0"].grad_norm == 0.0 and d["0"].update_ratio == 0.0
    assert d["0"].flags == ("vanishing",)
    assert d["2"].flags == ()  # its bias still learns
    assert [h.path for h in d.flagged] == ["0", "1"] and not d.healthy
    text = str(d)
    assert "layer 1 ReLU(): 4 of 4 units dead (pre-activation ≤ 0 for all 50 samples" in text
    assert "layer 0 Dense(3→4): vanishing gradient, update ratio 0.00e+00 < 1e-06" in text


def test_dead_units_are_those_off_for_every_sample():
    # Unit 0 is on for every sample, unit 1 for one sample only, units 2 and 3 never.
    W = np.array([[1.0, 1.0, -1.0, 0.0]])
    model = hg.Sequential([dense_from(W, [1.0, -1.5, 0.0, -0.5]), hg.ReLU()])
    X = np.array([[0.0], [1.0], [2.0]])
    d = hg.diagnose(model, X, np.zeros((3, 4)), hg.MSELoss())
    assert (d["1"].dead_units, d["1"].units) == (2, 4)
    assert d["1"].flags == ("dead",)  # 50 % reaches DEAD_FRACTION
    d = hg.diagnose(model, X[1:], np.zeros((2, 4)), hg.MSELoss())
    assert d["1"].dead_units == 2  # unit 1 is on at x = 2 too; unit 2 is −x ≤ 0, unit 3 is −0.5


def test_an_exploding_layer_is_flagged_with_the_measured_ratio(rng):
    big = hg.Dense(3, 8, rng=rng)
    big.weight.data *= 1e3  # activations, and so the next layer's gradient, grow a thousandfold
    model = hg.Sequential([big, hg.Tanh(), hg.Dense(8, 8, rng=rng), hg.ReLU(), hg.Dense(8, 1)])
    model[4].weight.data[...] = rng.standard_normal((8, 1)) * 1e3
    X, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 1))
    d = hg.diagnose(model, X, y, hg.MSELoss(), lr=1e-3)
    grads = plain_grads(model, X, y, hg.MSELoss())
    g = math.sqrt(np.sum(grads["2.weight"] ** 2) + np.sum(grads["2.bias"] ** 2))
    w = math.sqrt(np.sum(model[2].weight.data ** 2) + np.sum(model[2].bias.data ** 2))
    assert d["2"].grad_norm == pytest.approx(g, rel=1e-12)
    assert d["2"].param_norm == pytest.approx(w, rel=1e-12)
    assert d["2"].update_ratio == pytest.approx(1e-3 * g / w, rel=1e-12)
    assert d["2"].update_ratio > diagnostics.EXPLODING_RATIO
    assert d["2"].flags == ("exploding",)
    assert "layer 2 Dense(8→8): exploding gradient" in str(d)


def test_the_update_ratio_is_exactly_what_one_sgd_step_does(rng):
    model = hg.Sequential([hg.Dense(4, 3, rng=rng), hg.Sigmoid(), hg.Dense(3, 2, rng=rng)])
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 2, 10)
    d = hg.diagnose(model, X, y, hg.CrossEntropyLoss(), lr=0.3)
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    loss = hg.CrossEntropyLoss()
    loss.forward(model(X), y)
    model.backward(loss.backward())
    hg.SGD(model.parameters(), lr=0.3).step()
    for path in ("0", "2"):
        layer = [(n, p) for n, p in model.named_parameters() if n.startswith(path)]
        moved = math.sqrt(sum(np.sum((p.data - before[n]) ** 2) for n, p in layer))
        size = math.sqrt(sum(np.sum(before[n] ** 2) for n in before if n.startswith(path)))
        assert d[path].update_ratio == pytest.approx(moved / size, rel=1e-10)


def test_a_healthy_network_is_not_flagged(rng):
    model = hg.Sequential([hg.Dense(4, 8, rng=rng), hg.ReLU(), hg.Dense(8, 3, rng=rng)])
    for layer in (model[0], model[2]):
        layer.bias.data[...] = 0.1
    X, y = rng.standard_normal((200, 4)), rng.integers(0, 3, 200)
    d = hg.diagnose(model, X, y, hg.CrossEntropyLoss(), lr=1e-2)
    assert d.healthy and d.messages() == []
    assert str(d).endswith("no layer flagged")
    assert diagnostics.VANISHING_RATIO < d["0"].update_ratio < diagnostics.EXPLODING_RATIO


def test_the_ratio_scales_with_lr_and_crosses_the_thresholds(rng):
    model = hg.Sequential([hg.Dense(4, 3, rng=rng)])
    X, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    base = hg.diagnose(model, X, y, hg.MSELoss(), lr=1.0)["0"].update_ratio
    low = hg.diagnose(model, X, y, hg.MSELoss(), lr=0.5 * diagnostics.VANISHING_RATIO / base)
    high = hg.diagnose(model, X, y, hg.MSELoss(), lr=2 * diagnostics.EXPLODING_RATIO / base)
    assert low["0"].flags == ("vanishing",) and high["0"].flags == ("exploding",)
    assert high["0"].update_ratio == pytest.approx(2 * diagnostics.EXPLODING_RATIO, rel=1e-12)


def test_zero_weights_give_an_undefined_ratio_and_no_flag(rng):
    model = hg.Sequential([hg.Dense(3, 2, init="zeros")])
    d = hg.diagnose(model, rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), hg.MSELoss())
    assert d["0"].param_norm == 0.0 and math.isnan(d["0"].update_ratio)
    assert d["0"].flags == ()


def test_non_finite_gradients_explode(rng):
    model = hg.Sequential([hg.Dense(2, 2, init="zeros")])
    model[0].weight.data[...] = 1e-308
    # The outputs are finite (3), but dL/dW = Xᵀ · dZ sums four 1.5e308 · 3/8 and overflows.
    with np.errstate(over="ignore"):
        d = hg.diagnose(model, np.full((4, 2), 1.5e308), np.zeros((4, 2)), hg.MSELoss())
    assert math.isinf(d["0"].grad_norm)
    assert d["0"].flags == ("exploding",)


def test_float32_norms_are_summed_in_float64(rng):
    model = hg.Sequential([hg.Dense(3, 2, rng=rng, dtype=np.float32)])
    model[0].weight.data[...] = 3e19  # its square overflows float32
    d = hg.diagnose(model, np.full((2, 3), 1e-20), np.zeros((2, 2)), hg.MSELoss())
    assert d["0"].param_norm == pytest.approx(math.sqrt(6) * 3e19, rel=1e-6)


def test_the_table_has_a_row_per_relu_and_per_layer_with_parameters(rng):
    model = hg.Sequential(
        [hg.Dense(3, 4, rng=rng), hg.Tanh(), hg.Dropout(0.1, rng=0), hg.ReLU(), hg.Dense(4, 1)]
    )
    d = hg.diagnose(model, rng.standard_normal((5, 3)), np.zeros((5, 1)), hg.MSELoss())
    assert [h.path for h in d.layers] == ["0", "3", "4"]
    rows = d.rows()
    assert rows[1][:3] == ["3", "ReLU()", f"{d['3'].dead_units}/4 ({d['3'].dead_fraction:.0%})"]
    h = d["0"]
    assert rows[0][3:6] == [f"{h.param_norm:.2e}", f"{h.grad_norm:.2e}", f"{h.update_ratio:.2e}"]
    lines = str(d).splitlines()
    assert lines[0] == f"diagnosis: L = {d.loss_value:.6g} on 5 samples; update ratio = " + (
        "lr·‖∇θ‖/‖θ‖ at lr = 0.001"
    )
    with pytest.raises(KeyError, match=r"no layer '1'; the layers diagnosed are \['0', '3', '4'\]"):
        d["1"]


def test_diagnose_leaves_the_model_as_it_was(rng):
    model = hg.Sequential([hg.Dense(3, 4, rng=rng), hg.Dropout(0.5, rng=3), hg.ReLU()])
    values = [p.data.copy() for p in model.parameters()]
    state = model[1].rng.bit_generator.state
    model.eval()
    hg.diagnose(model, rng.standard_normal((6, 3)), np.zeros((6, 4)), hg.MSELoss())
    assert all(np.array_equal(p.data, v) for p, v in zip(model.parameters(), values))
    assert model[1].rng.bit_generator.state == state
    assert not model.training and not model[1].training


def test_bad_arguments_are_named(rng):
    model = hg.Sequential([hg.Dense(3, 1, rng=rng)])
    X, y, loss = rng.standard_normal((4, 3)), np.zeros((4, 1)), hg.MSELoss()
    with pytest.raises(TypeError, match=r"model must be a hg\.Sequential, got a Dense"):
        hg.diagnose(model[0], X, y, loss)
    with pytest.raises(TypeError, match=r"loss must be a hg\.Loss .*, got a Dense"):
        hg.diagnose(model, X, y, model[0])
    with pytest.raises(ValueError, match=r"X must be a batch of rows, shape \(batch, features\)"):
        hg.diagnose(model, X[0], y, loss)
    with pytest.raises(ValueError, match="X is empty: diagnose needs at least one row"):
        hg.diagnose(model, X[:0], y, loss)
    with pytest.raises(ValueError, match=r"lr must be > 0, got -0\.1"):
        hg.diagnose(model, X, y, loss, lr=-0.1)
    with pytest.raises(TypeError, match=r"training must be True or False, got 1 \(int\)"):
        hg.diagnose(model, X, y, loss, training=1)


def test_a_convolutions_dead_units_are_its_channels(rng):
    conv = hg.Conv2D(1, 3, 1, rng=rng)
    conv.weight.data[...] = [[[[1.0, -1.0, 1.0]]]]
    conv.bias.data[...] = [0.0, -5.0, 0.0]  # channel 1 is negative everywhere
    model = hg.Sequential([conv, hg.ReLU(), hg.Flatten(), hg.Dense(48, 2, rng=rng)])
    X = np.abs(rng.standard_normal((5, 4, 4, 1)))
    health = hg.diagnose(model, X, rng.integers(0, 2, 5), hg.CrossEntropyLoss())["1"]
    assert (health.dead_units, health.units) == (1, 3)
