from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg

ACTS = [hg.ReLU, hg.Tanh, hg.Sigmoid, lambda: hg.LeakyReLU(0.1), hg.GELU, hg.Identity]


def random_mlp(rng, sizes, dtype=np.float64):
    layers = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        dense = hg.Dense(a, b, rng=rng, dtype=dtype)
        # Non-zero biases: with zero biases behind a dead ReLU, a pre-activation is exactly 0,
        # on ReLU's kink, where no finite difference agrees with a one-sided derivative.
        dense.bias.data[...] = rng.uniform(0.1, 0.5, b) * rng.choice([-1, 1], b)
        layers.append(dense)
        if i < len(sizes) - 2:
            layers.append(ACTS[rng.integers(len(ACTS))]())
    return hg.Sequential(layers)


@given(depth=st.integers(1, 4), batch=st.integers(1, 16), seed=st.integers(0, 2**32 - 1))
def test_random_mlp_gradients_match_finite_differences(depth, batch, seed):
    rng = np.random.default_rng(seed)
    sizes = list(rng.integers(1, 6, depth + 1))
    model = random_mlp(rng, sizes)
    x = rng.standard_normal((batch, sizes[0]))
    report = hg.gradcheck(
        model, x, hg.CrossEntropyLoss(), rng.integers(0, sizes[-1], batch), max_checks=100
    )
    assert report.passed, str(report)


def test_forward_chains_the_layers(rng):
    model = random_mlp(rng, [3, 4, 2])
    x = rng.standard_normal((5, 3))
    np.testing.assert_array_equal(model(x), model[2](model[1](model[0](x))))
    np.testing.assert_array_equal(model.forward(x), model(x))


def test_backward_returns_the_input_gradient_and_fills_every_parameter(rng):
    model = random_mlp(rng, [3, 4, 4, 2])
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model(x)
    grad_in = model.backward(g)
    expected = g
    for layer in reversed(model.layers):
        expected = layer.backward(expected)
    np.testing.assert_array_equal(grad_in, expected)
    assert all(p.grad.any() for p in model.parameters())


def test_backward_params_gives_the_same_gradients_as_backward(rng):
    model = hg.Sequential([hg.Tanh(), hg.Dense(3, 4, rng=rng), hg.ReLU(), hg.Dense(4, 2, rng=rng)])
    x, g = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    model(x)
    model.backward(g)
    expected = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x)
    model.backward_params(g)
    for p, e in zip(model.parameters(), expected):
        np.testing.assert_array_equal(p.grad, e)


def test_backward_params_skips_the_layers_before_the_first_parameter(rng):
    calls = []

    class Spy(hg.Identity):
        def backward(self, grad_out):
            calls.append("spy")
            return super().backward(grad_out)

    model = hg.Sequential([Spy(), hg.Dense(2, 2, rng=rng)])
    model(np.ones((1, 2)))
    model.backward_params(np.ones((1, 2)))
    assert calls == []
    model.backward(np.ones((1, 2)))
    assert calls == ["spy"]


def test_container_protocol(rng):
    layers = [hg.Dense(2, 3, rng=rng), hg.ReLU(), hg.Dense(3, 1, rng=rng)]
    model = hg.Sequential(layers)
    assert len(model) == 3 and model[1] is layers[1] and list(model) == layers
    assert isinstance(model[:2], hg.Sequential) and model[:2][0] is layers[0]
    assert len(model.parameters()) == 4
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for p in model.parameters():
        p.grad[...] = 1
    model.zero_grad()
    assert not any(p.grad.any() for p in model.parameters())
    assert "Dense(2→3)" in repr(model)


def test_nested_sequential_is_a_layer(rng):
    inner = hg.Sequential([hg.Dense(3, 3, rng=rng), hg.Tanh()])
    model = hg.Sequential([inner, hg.Dense(3, 2, rng=rng)])
    assert len(model.parameters()) == 4
    assert hg.gradcheck(model, rng.standard_normal((4, 3))).passed


def test_train_and_eval_reach_every_layer(rng):
    model = hg.Sequential([hg.Dense(2, 2, rng=rng), hg.Sequential([hg.ReLU()])])
    model.eval()
    assert not model[0].training and not model[1][0].training
    model.train()
    assert model[1][0].training


def test_predict_in_batches_equals_one_forward(rng):
    model = random_mlp(rng, [4, 8, 3])
    X = rng.standard_normal((103, 4))
    np.testing.assert_allclose(model.predict(X, batch_size=10), model(X), rtol=1e-14)
    assert model.training


def test_float32_model_stays_float32(rng):
    model = random_mlp(rng, [4, 8, 3], dtype=np.float32)
    assert model.dtype == np.float32
    X = rng.standard_normal((5, 4))  # float64 data
    assert model.predict(X).dtype == np.float32
    assert model(X).dtype == np.float32
    assert model.backward(np.ones((5, 3))).dtype == np.float32


def test_backward_after_predict_says_forward_is_needed(rng):
    model = random_mlp(rng, [4, 8, 3])
    model.predict(rng.standard_normal((5, 4)))
    with pytest.raises(RuntimeError, match=r"backward called before forward"):
        model.backward(np.ones((5, 3)))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: hg.Sequential([hg.Dense(2, 2), "relu"]),
            TypeError,
            r"layers\[1\] must be a Layer \(e.g. hg.Dense, hg.ReLU\), got 'relu' \(str\)",
        ),
        (lambda: hg.Sequential(5), TypeError, "layers must be a list of Layer objects"),
        (
            lambda: hg.Sequential([hg.Dense(2, 2), hg.Dense(2, 2, dtype=np.float32)]),
            ValueError,
            "all layers must share one dtype",
        ),
        (
            lambda: hg.Sequential([hg.Dense(3, 2)])(np.ones((4, 2))),
            ValueError,
            r"Dense\(3→2\) expected 3 input features, i.e. shape \(batch, 3\), got shape \(4, 2\)",
        ),
        (
            lambda: hg.Sequential([hg.Dense(2, 2)])(np.array([[1.0, np.nan]])),
            ValueError,
            r"x must be finite, got a NaN or infinite value at index \(0, 1\)",
        ),
        (
            lambda: hg.Sequential([hg.Dense(2, 2)]).predict(np.ones((0, 2))),
            ValueError,
            "X is empty",
        ),
        (
            lambda: hg.Sequential([hg.Dense(2, 2)]).predict(np.ones((3, 2)), batch_size=0),
            ValueError,
            "batch_size must be >= 1, got 0",
        ),
        (
            lambda: hg.Sequential([hg.Dense(2, 2)]).predict(np.ones(3)),
            ValueError,
            r"X must be a batch of rows, shape \(batch, features\) or \(batch, …\), got shape "
            r"\(3,\)",
        ),
        (
            lambda: hg.Sequential([hg.Dense(2, 2)]).predict(np.ones((3, 2, 1))),
            ValueError,
            r"X must have 2 features per row \(the network's first layer takes 2\), got shape "
            r"\(3, 2, 1\)",
        ),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


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


def test_a_layer_in_two_places_is_refused_even_when_nested():
    """Tied weights are refused: backward would use the second place's cached input for both."""
    inner = hg.Sequential([hg.Dense(2, 2, rng=0), hg.Tanh()])
    with pytest.raises(ValueError) as info:
        hg.Sequential([inner, hg.Dense(2, 2, rng=1), inner])
    assert str(info.value).startswith(
        "layers: a Sequential of 2 layers appears twice in the network, at layers[0] and layers[2]"
    )
    dense = hg.Dense(2, 2, rng=2)
    with pytest.raises(ValueError, match=r"at layers\[0\]\[0\] and layers\[1\]"):
        hg.Sequential([hg.Sequential([dense]), dense])
    # Two layers of the same configuration, each its own object, are fine.
    assert (
        len(hg.Sequential([hg.Dense(2, 2, rng=0), hg.ReLU(), hg.Dense(2, 2, rng=0), hg.ReLU()]))
        == 4
    )


# Networks on images --------------------------------------------------------------------------


def small_cnn(rng, dtype=np.float64):
    return hg.Sequential(
        [
            hg.Reshape((8, 8, 1)),
            hg.Conv2D(1, 4, 3, padding=1, rng=rng, dtype=dtype),
            hg.BatchNorm(4, dtype=dtype),
            hg.ReLU(),
            hg.MaxPool2D(2),
            hg.Residual(hg.Sequential([hg.Conv2D(4, 4, 3, padding="same", rng=rng, dtype=dtype)])),
            hg.GlobalAvgPool(),
            hg.Dense(4, 3, rng=rng, dtype=dtype),
        ]
    )


def test_summary_of_a_cnn_shows_each_output_shape_and_count(rng):
    summary = small_cnn(rng).summary(64)
    assert str(summary).splitlines()[0] == "input: (batch, 64), float64"
    shown = [(name, shape, n) for _, name, shape, n in summary.rows]
    assert shown == [
        ("Reshape((8, 8, 1))", ("batch", 8, 8, 1), 0),
        ("Conv2D(1→4, 3×3, padding 1)", ("batch", 8, 8, 4), 40),
        ("BatchNorm(4)", ("batch", 8, 8, 4), 8),  # γ and β; the running statistics are state
        ("ReLU()", ("batch", 8, 8, 4), 0),
        ("MaxPool2D(2×2)", ("batch", 4, 4, 4), 0),
        ("Residual(Conv2D(4→4, 3×3, padding same))", ("batch", 4, 4, 4), 148),
        ("GlobalAvgPool()", ("batch", 4), 0),
        ("Dense(4→3)", ("batch", 3), 15),
    ]
    assert summary.total_params == 211
    conv = hg.Sequential([hg.Conv2D(1, 2, 3)])
    assert "(batch, 4, 4, 2)" in str(conv.summary((6, 6, 1)))
    with pytest.raises(ValueError, match=r"its first layer takes rows \(any, any, 1\)\); pass "):
        conv.summary()


def test_input_shape_comes_from_the_first_layer_that_fixes_it(rng):
    assert small_cnn(rng).input_shape() is None  # Reshape takes rows of 64 values, of any shape
    assert hg.Sequential([hg.ReLU(), hg.Conv2D(3, 2, 3)]).input_shape() == (None, None, 3)
    assert hg.Sequential([hg.Flatten(), hg.Dense(12, 2)]).input_shape() is None


def test_a_cnn_trains_predicts_and_checks_its_gradients(rng):
    model = small_cnn(rng)
    X, y = rng.standard_normal((40, 64)), rng.integers(0, 3, 40)
    assert hg.gradcheck(model, X[:6], hg.CrossEntropyLoss(), y[:6], max_checks=60).passed
    history = model.fit(
        X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.Adam(model.parameters(), lr=0.01),
        epochs=5, batch_size=8, seed=0,
    )  # fmt: skip
    assert history.loss[-1] < history.loss[0]
    np.testing.assert_allclose(model.predict(X, batch_size=7), model.predict(X), rtol=1e-12)


def test_predict_runs_a_cnn_in_chunks_of_bounded_size(rng, monkeypatch):
    from handgrad.nn import layer as layer_module

    model = hg.Sequential([hg.Conv2D(1, 8, 3, padding=1, rng=rng), hg.Flatten()])
    sizes = []
    forward = model.forward

    def counting(x):
        sizes.append(len(x))
        return forward(x)

    monkeypatch.setattr(model, "forward", counting)
    monkeypatch.setattr(layer_module, "CHUNK_BYTES", 16 * 8 * 8 * 8 * 8)  # 16 rows' output
    out = model.predict(rng.standard_normal((100, 8, 8, 1)))
    assert out.shape == (100, 512)
    assert max(sizes) == 16 and sum(sizes) == 100


def test_an_empty_batch_goes_through_every_layer_of_a_cnn(rng):
    """A rank of a distributed run may hold no row: its forward and backward see 0 rows."""
    model = small_cnn(rng)
    for layers in (model, hg.Sequential([hg.Conv1D(1, 2, 3), hg.AvgPool1D(2), hg.Flatten()])):
        x = np.zeros((0, 64)) if layers is model else np.zeros((0, 9, 1))
        with layers.mode(False):
            y = layers.forward(x)
            assert y.shape[0] == 0
            assert layers.backward(np.zeros(y.shape)).shape == x.shape
