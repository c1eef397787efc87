"""Weight initialisers: each draws from the distribution its name says."""

import numpy as np
import pytest

import handgrad as hg


@pytest.mark.parametrize(
    ("init", "check"),
    [
        ("he", lambda w, fi, fo: abs(w.std() - np.sqrt(2 / fi)) < 0.02 * np.sqrt(2 / fi)),
        ("he_uniform", lambda w, fi, fo: np.abs(w).max() <= np.sqrt(6 / fi)),
        ("glorot_uniform", lambda w, fi, fo: np.abs(w).max() <= np.sqrt(6 / (fi + fo))),
        ("xavier_normal", lambda w, fi, fo: abs(w.std() - np.sqrt(2 / (fi + fo))) < 0.02 * 0.06),
        ("zeros", lambda w, fi, fo: not w.any()),
    ],
)
def test_initialisers_follow_their_distribution(init, check):
    fan_in, fan_out = 400, 300
    layer = hg.Dense(fan_in, fan_out, init=init, rng=0)
    w = layer.weight.data
    assert check(w, fan_in, fan_out)
    assert not layer.bias.data.any()


def test_uniform_initialisers_fill_their_range():
    w = hg.Dense(400, 300, init="glorot_uniform", rng=0).weight.data
    limit = np.sqrt(6 / 700)
    assert np.abs(w).max() > 0.99 * limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.01 * limit


def test_same_seed_same_weights_and_float32_is_rounded_float64():
    a = hg.Dense(5, 4, rng=42).weight.data
    b = hg.Dense(5, 4, rng=np.random.default_rng(42)).weight.data
    c = hg.Dense(5, 4, rng=42, dtype=np.float32).weight.data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c, a.astype(np.float32))
    assert not np.array_equal(a, hg.Dense(5, 4, rng=43).weight.data)


def test_callable_initialiser(rng):
    layer = hg.Dense(2, 3, init=lambda shape, r: np.full(shape, 0.5))
    assert np.all(layer.weight.data == 0.5)
