"""BatchNorm and LayerNorm: the formulas, their gradients, and batch norm's running statistics."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg

shapes = st.one_of(
    st.tuples(st.integers(2, 6), st.integers(1, 4)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
)


@given(shape=shapes, seed=st.integers(0, 2**32 - 1), training=st.booleans())
def test_batch_norm_gradients_match_finite_differences(shape, seed, training):
    rng = np.random.default_rng(seed)
    if training and np.prod(shape[:-1]) < 2:
        shape = (2, *shape[1:])
    layer = hg.BatchNorm(shape[-1])
    layer.weight.data[...] = rng.standard_normal(shape[-1])
    layer.bias.data[...] = rng.standard_normal(shape[-1])
    layer.running_mean.data[...] = rng.standard_normal(shape[-1])
    layer.running_var.data[...] = rng.random(shape[-1]) + 0.5
    layer.train(training)
    report = hg.gradcheck(layer, rng.standard_normal(shape) * 2 + 1, max_checks=100)
    assert report.passed, str(report)


@given(
    batch=st.integers(1, 4),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    axes=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_layer_norm_gradients_match_finite_differences(batch, shape, axes, seed):
    rng = np.random.default_rng(seed)
    normalized = tuple(shape[-axes:])
    layer = hg.LayerNorm(normalized)
    layer.weight.data[...] = rng.standard_normal(normalized)
    layer.bias.data[...] = rng.standard_normal(normalized)
    report = hg.gradcheck(layer, rng.standard_normal((batch, *shape)), max_checks=100)
    assert report.passed, str(report)


def test_batch_norm_normalises_each_feature_over_every_other_axis(rng):
    layer = hg.BatchNorm(3)
    layer.weight.data[...] = [1.0, 2.0, 0.5]
    layer.bias.data[...] = [0.0, -1.0, 3.0]
    x = rng.standard_normal((4, 5, 5, 3)) * 3 + 2
    y = layer(x)
    mu, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    expected = (x - mu) / np.sqrt(var + 1e-5) * layer.weight.data + layer.bias.data
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_batch_norm_backward_is_the_written_formula(rng):
    layer = hg.BatchNorm(4)
    layer.weight.data[...] = rng.standard_normal(4)
    x, dy = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    layer(x)
    dx = layer.backward(dy)
    s = np.sqrt(x.var(axis=0) + 1e-5)
    xhat = (x - x.mean(axis=0)) / s
    expected = (layer.weight.data / s) * (dy - dy.mean(axis=0) - xhat * (dy * xhat).mean(axis=0))
    np.testing.assert_allclose(dx, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.weight.grad, (dy * xhat).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, dy.sum(axis=0), rtol=1e-13)


def test_running_statistics_follow_pytorchs_rule_with_the_unbiased_variance(rng):
    layer = hg.BatchNorm(2, momentum=0.25)
    mean, var = np.zeros(2), np.ones(2)
    for _ in range(3):
        x = rng.standard_normal((5, 3, 2)) + 4
        layer(x)
        rows = x.reshape(-1, 2)
        mean = 0.75 * mean + 0.25 * rows.mean(axis=0)
        var = 0.75 * var + 0.25 * rows.var(axis=0, ddof=1)
    np.testing.assert_allclose(layer.running_mean.data, mean, rtol=1e-13)
    np.testing.assert_allclose(layer.running_var.data, var, rtol=1e-13)


def test_evaluation_uses_the_running_statistics_and_leaves_them(rng):
    layer = hg.BatchNorm(3)
    layer.running_mean.data[...] = [1.0, 2.0, 3.0]
    layer.running_var.data[...] = [4.0, 1.0, 0.25]
    layer.eval()
    x = rng.standard_normal((1, 3))  # one row is fine outside training
    expected = (x - layer.running_mean.data) / np.sqrt(layer.running_var.data + 1e-5)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-13)
    np.testing.assert_array_equal(layer.running_mean.data, [1.0, 2.0, 3.0])


def test_running_statistics_are_state_not_parameters():
    layer = hg.BatchNorm(4)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in layer.named_state()] == ["running_mean", "running_var"]
    model = hg.Sequential([hg.Dense(3, 4), layer])
    assert [n for n, _ in model.named_state()] == ["1.running_mean", "1.running_var"]
    assert all(isinstance(s, hg.State) for _, s in model.named_state())
    assert hg.BatchNorm.parameter_count(layer.get_config()) == 16  # γ, β and the statistics


def test_variance_in_two_passes_keeps_float32_digits_far_from_zero(rng):
    layer = hg.BatchNorm(1, dtype=np.float32)
    x = (1000 + 0.01 * rng.standard_normal((4096, 1))).astype(np.float32)
    y = layer(x)
    # E[x²] − μ² would give a variance near 6e-2 here, and y far from unit variance.
    assert float(y.std()) == pytest.approx(1.0, rel=0.05)


def test_layer_norm_normalises_each_sample(rng):
    layer = hg.LayerNorm((2, 3))
    x = rng.standard_normal((4, 5, 2, 3)) * 3 - 1
    y = layer(x)
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-5), rtol=1e-12, atol=1e-12)
    with layer.mode(False):
        np.testing.assert_allclose(layer(x), y, rtol=1e-15)  # the same in both modes


def test_configurations_rebuild_the_layers():
    for layer in (
        hg.BatchNorm(8, eps=1e-3, momentum=0.01, dtype=np.float32),
        hg.LayerNorm((4, 2), eps=1e-6),
        hg.LayerNorm(7),
    ):
        config = layer.get_config()
        twin = type(layer).from_config(config)
        assert twin.get_config() == config
        total = sum(p.size for p in layer.parameters()) + sum(
            s.size for _, s in layer.named_state()
        )
        assert type(layer).parameter_count(config) == total
    assert repr(hg.LayerNorm(7)) == "LayerNorm(7)"
    assert repr(hg.BatchNorm(8)) == "BatchNorm(8)"


@pytest.mark.parametrize(
    ("make", "x_shape", "message"),
    [
        (
            lambda: hg.BatchNorm(3),
            (1, 3),
            r"BatchNorm\(3\) needs more than one value per feature in training mode \(it "
            r"normalises each feature over the batch\), got input of shape \(1, 3\)",
        ),
        (
            lambda: hg.BatchNorm(3),
            (4, 4),
            r"BatchNorm\(3\) expected input \(batch, …, 3\) with its 3 features on the last "
            r"axis, got shape \(4, 4\)",
        ),
        (
            lambda: hg.LayerNorm((2, 3)),
            (4, 3, 2),
            r"LayerNorm\(\(2, 3\)\) expected input \(batch, …, 2, 3\), got shape \(4, 3, 2\)",
        ),
    ],
)
def test_bad_input_is_named(make, x_shape, message):
    with pytest.raises(ValueError, match=message):
        make()(np.ones(x_shape))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: hg.BatchNorm(0), ValueError, "num_features must be >= 1, got 0"),
        (lambda: hg.BatchNorm(2, eps=0), ValueError, "eps must be > 0, got 0"),
        (lambda: hg.BatchNorm(2, momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
        (lambda: hg.LayerNorm("4"), TypeError, "normalized_shape must be an int or a tuple"),
    ],
)
def test_bad_arguments_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()
