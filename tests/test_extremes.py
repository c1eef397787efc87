"""Numerical extremes: finite results or a clear TrainingDiverged, never a NumPy warning.

pytest turns every warning into an error here (``filterwarnings = error``), so a leaking
overflow or invalid-value warning fails these tests.
"""

import numpy as np
import pytest
from reliability import record

import handgrad as hg

DTYPES = [np.float32, np.float64]


def problem(dtype, n=256, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 10)).astype(dtype)
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


def mlp(dtype, act=hg.ReLU):
    rng = np.random.default_rng(1)
    return hg.Sequential(
        [hg.Dense(10, 32, rng=rng, dtype=dtype), act(), hg.Dense(32, 2, rng=rng, dtype=dtype)]
    )


class WeightLog(hg.Callback):
    def __init__(self):
        self.last = None

    def on_batch_end(self, run):
        self.last = [p.data.copy() for p in run.model.parameters()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", [hg.ReLU, hg.Tanh, hg.Sigmoid, hg.GELU])
def test_a_learning_rate_of_1e3_diverges_cleanly_and_keeps_finite_weights(dtype, act):
    X, y = problem(dtype)
    model = mlp(dtype, act)
    log = WeightLog()
    try:
        model.fit(
            X,
            y,
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.SGD(model.parameters(), lr=1e3),
            epochs=30,
            batch_size=16,
            callbacks=[log],
            seed=0,
        )
    except hg.TrainingDiverged as exc:
        assert f"epoch {exc.epoch + 1}, batch {exc.batch + 1}" in str(exc)
        assert "lr = 1000" in str(exc) and "smaller learning rate" in str(exc)
        if log.last is not None:  # the weights of the last step that completed
            for p, before in zip(model.parameters(), log.last):
                np.testing.assert_array_equal(p.data, before)
        record("divergences stopped cleanly", 1)
    assert all(np.isfinite(p.data).all() for p in model.parameters())


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_learning_rate_of_1e_12_barely_moves(dtype):
    X, y = problem(dtype)
    model = mlp(dtype)
    before = [p.data.copy() for p in model.parameters()]
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.SGD(model.parameters(), lr=1e-12),
        epochs=2,
        seed=0,
    )
    assert np.isfinite(history["loss"]).all()
    for p, b in zip(model.parameters(), before):
        np.testing.assert_allclose(p.data, b, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_clipping_keeps_a_huge_learning_rate_finite(dtype):
    X, y = problem(dtype)
    model = mlp(dtype)
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        epochs=3,
        gradient_clip=1e-4,
        seed=0,
        optimizer=hg.SGD(model.parameters(), lr=1e3),
    )
    assert np.isfinite(history["loss"]).all()


def test_clip_grad_norm_follows_the_formula(rng):
    params = [hg.Parameter(rng.standard_normal((3, 4))), hg.Parameter(rng.standard_normal(5))]
    for p in params:
        p.grad[...] = rng.standard_normal(p.shape) * 10
    opt = hg.SGD(params, lr=0.1)
    grads = [p.grad.copy() for p in params]
    norm = np.sqrt(sum((g**2).sum() for g in grads))
    assert opt.clip_grad_norm(1.0) == pytest.approx(norm, rel=1e-12)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad, g * (1.0 / (norm + 1e-6)), rtol=1e-12)
    assert opt.grad_norm() == pytest.approx(norm / (norm + 1e-6), rel=1e-9)
    assert opt.clip_grad_norm(100.0) == pytest.approx(norm / (norm + 1e-6), rel=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_finite_weights_from_the_user_are_reported_not_propagated(dtype):
    X, y = problem(dtype)
    model = mlp(dtype)
    model[0].weight.data[0, 0] = np.nan
    with pytest.raises(hg.TrainingDiverged, match=r"epoch 1, batch 1: the loss is nan"):
        model.fit(X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_inputs_too_large_for_the_network_are_a_clear_predict_error(dtype):
    model = mlp(dtype)
    model[0].weight.data[...] = 1  # ten inputs of max/4 sum to 2.5·max: an overflow
    X = np.full((2, 10), np.finfo(dtype).max / 4, dtype=dtype)
    with pytest.raises(ValueError, match="X is out of range for this network"):
        model.predict(X)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_extreme_logits_train_without_warnings(dtype, scale):
    X, y = problem(dtype, n=64)
    model = mlp(dtype)
    model[2].bias.data[...] = [scale, -scale]
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        epochs=2,
        seed=0,
        optimizer=hg.SGD(model.parameters(), lr=1e-3),
    )
    assert np.isfinite(history["loss"]).all() and history["loss"][0] > 1e3


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_tanh_networks_on_inputs_of_1000(dtype):
    X = np.full((4, 10), 1000.0, dtype=dtype) * np.array([1, -1, 1, -1])[:, None]
    for act in (hg.Sigmoid, hg.Tanh):
        out = mlp(dtype, act).predict(X)
        assert np.isfinite(out).all() and out.dtype == dtype


@pytest.mark.parametrize(
    ("dtype", "scale"), [(np.float64, 1e300), (np.float32, 1.5e38)], ids=["1e300", "float32 3e38"]
)
def test_features_near_the_top_of_the_range_stop_cleanly(dtype, scale):
    """No NumPy warning escapes (warnings are errors here): the first overflow stops the step."""
    X = (np.arange(60.0).reshape(20, 3) / 60 * scale).astype(dtype)
    model = hg.Sequential(
        [hg.Dense(3, 4, rng=0, dtype=dtype), hg.ReLU(), hg.Dense(4, 2, rng=1, dtype=dtype)]
    )
    with pytest.raises(hg.TrainingDiverged, match=r"overflow encountered in dot"):
        model.fit(
            X,
            np.arange(20) % 2,
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.SGD(model.parameters(), lr=0.1),
            epochs=5,
        )
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    record("divergences stopped cleanly", 1)
