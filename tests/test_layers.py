"""Dense and the layer contract."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg

dims = st.integers(1, 12)
batches = st.integers(1, 64)


@given(batch=batches, n_in=dims, n_out=dims, seed=st.integers(0, 2**32 - 1))
def test_dense_gradients_match_finite_differences(batch, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    layer = hg.Dense(n_in, n_out, rng=rng)
    layer.bias.data[...] = rng.standard_normal(n_out)
    report = hg.gradcheck(layer, rng.standard_normal((batch, n_in)), max_checks=200)
    assert report.passed, str(report)
    assert report.max_rel_error < 1e-6


def test_dense_forward_is_x_times_w_plus_b(rng):
    layer = hg.Dense(3, 2, rng=rng)
    layer.bias.data[...] = [0.5, -1.0]
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(layer(x), x @ layer.weight.data + layer.bias.data, rtol=1e-15)


def test_dense_backward_formulas(rng):
    layer = hg.Dense(3, 2, rng=rng)
    x = rng.standard_normal((5, 3))
    dZ = rng.standard_normal((5, 2))
    layer.forward(x)
    dX = layer.backward(dZ)
    np.testing.assert_allclose(layer.weight.grad, x.T @ dZ, rtol=1e-14)
    np.testing.assert_allclose(layer.bias.grad, dZ.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(dX, dZ @ layer.weight.data.T, rtol=1e-14)


def test_backward_params_fills_the_same_gradients_without_the_input_gradient(rng):
    layer = hg.Dense(4, 3, rng=rng)
    x, dZ = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    layer.forward(x)
    layer.backward(dZ)
    expected = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer.zero_grad()
    layer.forward(x)
    assert layer.backward_params(dZ) is None
    np.testing.assert_array_equal(layer.weight.grad, expected[0])
    np.testing.assert_array_equal(layer.bias.grad, expected[1])


def test_backward_overwrites_gradients(rng):
    layer = hg.Dense(2, 2, rng=rng)
    x, dZ = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    for _ in range(3):
        layer.forward(x)
        layer.backward(dZ)
    np.testing.assert_allclose(layer.weight.grad, x.T @ dZ, rtol=1e-14)


def test_batch_size_can_change_between_calls(rng):
    layer = hg.Dense(3, 2, rng=rng)
    for batch in (7, 2, 1, 9):
        x, dZ = rng.standard_normal((batch, 3)), rng.standard_normal((batch, 2))
        layer.forward(x)
        layer.backward(dZ)
        np.testing.assert_allclose(layer.bias.grad, dZ.sum(axis=0), rtol=1e-14)
        np.testing.assert_allclose(layer.weight.grad, x.T @ dZ, rtol=1e-14)


def test_returned_arrays_belong_to_the_caller(rng):
    layer = hg.Dense(3, 2, rng=rng)
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y1 = layer(x1)
    kept = y1.copy()
    layer(x2)
    np.testing.assert_array_equal(y1, kept)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_end_to_end(dtype, rng):
    layer = hg.Dense(3, 2, rng=rng, dtype=dtype)
    assert layer.weight.data.dtype == dtype and layer.bias.grad.dtype == dtype
    y = layer(rng.standard_normal((4, 3)))  # float64 input
    assert y.dtype == dtype
    dX = layer.backward(np.ones((4, 2)))
    assert dX.dtype == dtype and layer.weight.grad.dtype == dtype


def test_integer_input_is_accepted(rng):
    layer = hg.Dense(3, 1, rng=rng)
    np.testing.assert_allclose(layer([[1, 2, 3]]), [[1.0, 2.0, 3.0]] @ layer.weight.data)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: hg.Dense(3, 2).forward(np.ones((4, 5))),
            ValueError,
            r"Dense\(3→2\) expected 3 input features, i.e. shape \(batch, 3\), got shape \(4, 5\)",
        ),
        (lambda: hg.Dense(3, 2).forward(np.ones(3)), ValueError, r"got shape \(3,\)"),
        (
            lambda: hg.Dense(3, 2).forward(np.array([["a", "b", "c"]])),
            TypeError,
            r"must be an array of numbers, got dtype <U1",
        ),
        (lambda: hg.Dense(3, 2).forward(np.ones((1, 3), complex)), TypeError, "complex"),
        (lambda: hg.Dense(0, 2), ValueError, "n_in must be >= 1, got 0"),
        (lambda: hg.Dense(2.5, 2), TypeError, r"n_in must be an integer, got 2.5 \(float\)"),
        (lambda: hg.Dense(2, 2, init="bogus"), ValueError, "init must be one of"),
        (lambda: hg.Dense(2, 2, dtype=np.int32), TypeError, "dtype must be np.float32 or"),
        (lambda: hg.Dense(2, 2, rng="seed"), TypeError, "rng must be None, an int seed or"),
        (
            lambda: hg.Dense(2, 2, init=lambda s, r: np.ones((3, 3))),
            ValueError,
            r"init returned shape \(3, 3\), expected \(2, 2\)",
        ),
        (
            lambda: hg.Dense(2, 2).backward(np.ones((1, 2))),
            RuntimeError,
            r"Dense\(2→2\).backward called before forward",
        ),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_grad_out_of_the_wrong_shape_is_refused(rng):
    layer = hg.Dense(3, 2)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(4, 2\).*got \(4, 3\)"):
        layer.backward(np.ones((4, 3)))


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


def test_predict_keeps_no_reference_to_its_input(rng):
    import gc
    import weakref

    model = hg.Sequential([hg.Dense(3, 4, rng=0), hg.ReLU(), hg.Dense(4, 2, rng=1)])
    X = rng.standard_normal((50, 3))
    ref = weakref.ref(X)
    model.predict(X)
    del X
    gc.collect()
    assert ref() is None


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
