import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg


def targets_for(name, rng, n, k):
    if name == "mse":
        return rng.standard_normal((n, k))
    if name == "ce_labels":
        return rng.integers(0, k, n)
    if name == "ce_onehot":
        return np.eye(k)[rng.integers(0, k, n)]
    if name == "ce_probs":
        p = rng.random((n, k))
        return p / p.sum(axis=1, keepdims=True)
    return rng.random((n, k))  # bce


LOSSES = {
    "mse": hg.MSELoss,
    "ce_labels": hg.CrossEntropyLoss,
    "ce_onehot": hg.CrossEntropyLoss,
    "ce_probs": hg.CrossEntropyLoss,
    "bce": hg.BCEWithLogitsLoss,
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@given(n=st.integers(1, 64), k=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_loss_gradients_match_finite_differences(name, n, k, seed):
    rng = np.random.default_rng(seed)
    pred = rng.standard_normal((n, k)) * 3
    target = targets_for(name, rng, n, k)
    report = hg.gradcheck(hg.Identity(), pred, LOSSES[name](), target, max_checks=200)
    assert report.passed, str(report)


def test_mse_is_half_the_mean_squared_error(rng):
    p, a = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    loss = hg.MSELoss()
    assert loss.forward(p, a) == pytest.approx(0.5 * np.mean((p - a) ** 2), rel=1e-14)
    np.testing.assert_allclose(loss.backward(), (p - a) / 15, rtol=1e-14)


def test_mse_accepts_a_1d_target_for_one_output():
    loss = hg.MSELoss()
    assert loss.forward(np.array([[1.0], [3.0]]), np.array([0.0, 1.0])) == pytest.approx(1.25)


def test_cross_entropy_value_and_gradient(rng):
    z = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    loss = hg.CrossEntropyLoss()
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert loss.forward(z, y) == pytest.approx(-np.mean(np.log(p[np.arange(4), y])), rel=1e-14)
    np.testing.assert_allclose(loss.backward(), (p - np.eye(3)[y]) / 4, rtol=1e-13)
    assert loss.forward(z, np.eye(3)[y]) == pytest.approx(loss.forward(z, y), rel=1e-14)


def test_cross_entropy_accepts_integral_float_labels():
    z = np.zeros((2, 3))
    assert hg.CrossEntropyLoss().forward(z, np.array([0.0, 2.0])) == pytest.approx(np.log(3))


def test_bce_value_and_gradient(rng):
    z, y = rng.standard_normal((4, 2)), rng.random((4, 2))
    s = 1 / (1 + np.exp(-z))
    loss = hg.BCEWithLogitsLoss()
    expected = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))
    assert loss.forward(z, y) == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), (s - y) / 8, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite_and_warning_free(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ce = hg.CrossEntropyLoss()
        v1 = ce.forward(z, np.array([0, 0]))
        g1 = ce.backward()
        bce = hg.BCEWithLogitsLoss()
        v2 = bce.forward(z, (z > 0).astype(dtype))
        g2 = bce.backward()
    assert v1 == pytest.approx(2e4 / 2, rel=1e-6)  # the second row is off by 2e4
    assert v2 == pytest.approx(np.log(2) / 6, rel=1e-6)  # only the 0 logit costs log 2
    assert g1.dtype == dtype and g2.dtype == dtype
    assert np.isfinite(g1).all() and np.isfinite(g2).all()


@pytest.mark.parametrize(
    ("loss", "pred", "target", "error", "message"),
    [
        (
            hg.MSELoss(),
            np.ones((3, 2)),
            np.ones((3, 3)),
            ValueError,
            r"MSELoss expected a target of shape \(n, 2\) like the predictions \(3, 2\), "
            r"got \(3, 3\)",
        ),
        (
            hg.MSELoss(),
            np.ones((3, 1)),
            np.ones(4),
            ValueError,
            "MSELoss got 3 predictions but 4 targets",
        ),
        (
            hg.MSELoss(),
            np.ones((2, 1)),
            np.array([1.0, np.nan]),
            ValueError,
            r"MSELoss target must be finite, got a NaN or infinite value at index \(1,\)",
        ),
        (hg.MSELoss(), np.array([[np.inf]]), np.ones(1), ValueError, "MSELoss pred must be finite"),
        (
            hg.CrossEntropyLoss(),
            np.ones((2, 3)),
            np.array([0, 3]),
            ValueError,
            r"labels must be in \[0, 3\) for 3 logits per row, got 3",
        ),
        (
            hg.CrossEntropyLoss(),
            np.ones((2, 3)),
            np.array([0.5, 1.0]),
            ValueError,
            "class labels must be integers, got non-integer values such as 0.5",
        ),
        (
            hg.CrossEntropyLoss(),
            np.ones((2, 3)),
            np.ones((2, 2)),
            ValueError,
            r"integer labels \(n,\) or one-hot rows \(n, 3\), got shape \(2, 2\)",
        ),
        (
            hg.CrossEntropyLoss(),
            np.ones((2, 2)),
            np.array([[0.5, 0.6], [1, 0]]),
            ValueError,
            "must be >= 0 and sum to 1, got a row summing to 1.1",
        ),
        (
            hg.CrossEntropyLoss(),
            np.ones((2, 2)),
            np.array(["a", "b"]),
            TypeError,
            "CrossEntropyLoss target must be an array of numbers, got dtype <U1",
        ),
        (
            hg.BCEWithLogitsLoss(),
            np.ones((2, 1)),
            np.array([0.0, 2.0]),
            ValueError,
            r"target must be in \[0, 1\], got values from 0.0 to 2.0",
        ),
        (
            hg.MSELoss(),
            np.ones(3),
            np.ones(3),
            ValueError,
            r"MSELoss pred must be a 2-D array \(batch, features\), got shape \(3,\)",
        ),
        (hg.MSELoss(), np.ones((0, 1)), np.ones(0), ValueError, "pred is empty"),
    ],
)
def test_bad_targets_are_named(loss, pred, target, error, message):
    with pytest.raises(error, match=message):
        loss.forward(pred, target)


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match=r"CrossEntropyLoss\.backward called before forward"):
        hg.CrossEntropyLoss().backward()
