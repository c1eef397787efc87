"""The layer contract: a layer of your own, train and eval modes, pickling."""

import numpy as np
import pytest

import handgrad as hg


class Scale(hg.Layer):
    """A user-written layer: y = x ⊙ s, with a parameter s of shape (features,)."""

    def __init__(self, n):
        self.s = hg.Parameter(np.linspace(0.5, 1.5, n))

    def forward(self, x):
        self._x = x
        return x * self.s.data

    def backward(self, grad_out):
        self.s.grad[...] = (grad_out * self._x).sum(axis=0)
        return grad_out * self.s.data


def test_user_layer_works_without_registration(rng):
    layer = Scale(3)
    assert layer.parameters() == [layer.s]
    assert hg.gradcheck(layer, rng.standard_normal((4, 3))).passed
    model = hg.Sequential([hg.Dense(2, 3, rng=0), Scale(3), hg.Dense(3, 1, rng=1)])
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight",
        "0.bias",
        "1.s",
        "2.weight",
        "2.bias",
    ]
    before = model[1].s.data.copy()
    X, y = rng.standard_normal((32, 2)), rng.standard_normal(32)
    history = model.fit(
        X,
        y,
        loss=hg.MSELoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.05),
        epochs=20,
        batch_size=8,
        seed=0,
    )
    assert not np.array_equal(model[1].s.data, before)
    assert history["loss"][-1] < history["loss"][0]


def test_layer_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="must implement forward"):
        hg.Layer()(np.ones((1, 1)))


def test_train_and_eval_modes():
    layer = hg.Dense(2, 2)
    assert layer.training
    assert layer.eval() is layer and not layer.training
    assert layer.train().training


def test_a_pickled_model_loaded_read_only_still_predicts(tmp_path, rng):
    import pickle

    model = hg.Sequential(
        [hg.Dense(3, 4, rng=0), hg.ReLU(), hg.Dropout(0.1, rng=0), hg.Dense(4, 2)]
    )
    X = rng.standard_normal((5, 3))
    expected = model.predict(X)
    model.fit(
        X,
        np.zeros(5, int),
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.0001),
    )
    clone = pickle.loads(pickle.dumps(model))
    assert "_scratch_buffers" not in vars(clone[1]) and clone[0].__dict__.get("_x") is None
    for p in clone.parameters():
        p.data.setflags(write=False)  # what a memory-mapped load gives
    np.testing.assert_allclose(clone.predict(X), model.predict(X))
    assert expected.shape == (5, 2)
