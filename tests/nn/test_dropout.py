import numpy as np
import pytest

import handgrad as hg


def test_dropout_scales_survivors_and_is_unbiased():
    layer = hg.Dropout(0.25, rng=0)
    x = np.ones((400, 50))
    y = layer(x)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert abs(y.mean() - 1) < 0.02


def test_dropout_backward_uses_the_forward_mask(rng):
    layer = hg.Dropout(0.5, rng=1)
    x = rng.standard_normal((20, 6))
    y = layer(x)
    g = rng.standard_normal((20, 6))
    np.testing.assert_array_equal(layer.backward(g), g * (y / x))


def test_dropout_gradient_with_a_fixed_mask_matches_finite_differences(rng):
    layer = hg.Dropout(0.3, rng=2)
    x = rng.standard_normal((5, 4))
    layer(x)
    state = layer.rng.bit_generator.state

    class Replay(hg.Layer):
        """Re-draws the same mask on every forward, so finite differences see one function."""

        def forward(self, x):
            layer.rng.bit_generator.state = state
            return layer.forward(x)

        def backward(self, grad_out):
            return layer.backward(grad_out)

    assert hg.gradcheck(Replay(), x).passed


def test_dropout_in_eval_mode_is_the_identity(rng):
    layer = hg.Dropout(0.9, rng=0).eval()
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_predict_does_not_drop_and_fit_does(rng):
    model = hg.Sequential([hg.Dense(4, 8, rng=0), hg.Dropout(0.5, rng=0), hg.Dense(8, 1, rng=1)])
    X = rng.standard_normal((10, 4))
    np.testing.assert_array_equal(model.predict(X), model.predict(X))
    model.train()
    assert not np.array_equal(model(X), model(X))


def test_dropout_is_reproducible_from_its_seed(rng):
    x = rng.standard_normal((8, 8))
    assert np.array_equal(hg.Dropout(0.5, rng=3)(x), hg.Dropout(0.5, rng=3)(x))
    assert hg.Dropout(0.5, rng=3)(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    ("p", "error", "message"),
    [
        (1.0, ValueError, r"p must be in \[0, 1\), got 1.0"),
        (-0.1, ValueError, "got -0.1"),
        ("0.5", TypeError, "p must be a probability"),
    ],
)
def test_dropout_bad_p(p, error, message):
    with pytest.raises(error, match=message):
        hg.Dropout(p)
