"""Max and average pooling, global average pooling, and ReLU + max-pool in one pass."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg


def loop_max_pool(x, k, s, g):
    """Max-pooling and its gradient by the definition: each window's gradient to its first
    maximum in row-major order."""
    (kh, kw), (sh, sw) = k, s
    N, H, W, C = x.shape
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    y, dx = np.zeros((N, Ho, Wo, C)), np.zeros_like(x)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for c in range(C):
                    window = x[n, i * sh : i * sh + kh, j * sw : j * sw + kw, c]
                    a, b = np.unravel_index(np.argmax(window), window.shape)  # the first
                    y[n, i, j, c] = window[a, b]
                    dx[n, i * sh + a, j * sw + b, c] += g[n, i, j, c]
    return y, dx


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    return dict(
        kernel=(kh, kw),
        stride=stride,
        shape=(
            draw(st.integers(1, 3)),
            draw(st.integers(kh, 7)),
            draw(st.integers(kw, 7)),
            draw(st.integers(1, 3)),
        ),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@pytest.mark.parametrize("kind", [hg.MaxPool2D, hg.AvgPool2D])
@given(case=pool_cases())
def test_pool2d_gradients_match_finite_differences(kind, case):
    rng = np.random.default_rng(case["seed"])
    layer = kind(case["kernel"], case["stride"])
    report = hg.gradcheck(layer, rng.standard_normal(case["shape"]), max_checks=60)
    assert report.passed, str(report)


@pytest.mark.parametrize("kind", [hg.MaxPool1D, hg.AvgPool1D])
@given(
    k=st.integers(1, 4),
    s=st.one_of(st.none(), st.integers(1, 3)),
    length=st.integers(4, 9),
    batch=st.integers(1, 3),
    channels=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_pool1d_gradients_match_finite_differences(kind, k, s, length, batch, channels, seed):
    rng = np.random.default_rng(seed)
    report = hg.gradcheck(kind(k, s), rng.standard_normal((batch, length, channels)))
    assert report.passed, str(report)


@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3)))
def test_global_average_pool_gradients_match_finite_differences(shape):
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    assert hg.gradcheck(hg.GlobalAvgPool(), x).passed
    assert hg.gradcheck(hg.GlobalAvgPool(), x[:, 0]).passed  # (batch, length, channels)


@pytest.mark.parametrize(
    ("kernel", "stride"), [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 3), (1, 2)), ((2, 2), (3, 3))]
)
def test_max_pool_is_its_definition_ties_included(kernel, stride, rng):
    layer = hg.MaxPool2D(kernel, stride)
    # Integers from a small range: hundreds of windows hold their maximum more than once.
    x = rng.integers(-2, 3, (3, 9, 8, 2)).astype(float)
    y = layer(x)
    g = rng.standard_normal(y.shape)
    expected_y, expected_dx = loop_max_pool(x, kernel, stride, g)
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_allclose(layer.backward(g), expected_dx, rtol=1e-15, atol=0)


def test_a_tied_window_gives_its_gradient_to_its_first_maximum():
    layer = hg.MaxPool2D(2)
    x = np.array([[[1.0], [3.0]], [[3.0], [3.0]]])[None]  # 3 at (0, 1), (1, 0) and (1, 1)
    layer(x)
    dx = layer.backward(np.array([[[[5.0]]]]))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 5], [0, 0]])


def test_avg_pool_is_the_window_mean(rng):
    x = rng.standard_normal((2, 6, 4, 3))
    y = hg.AvgPool2D(2)(x)
    np.testing.assert_allclose(y, x.reshape(2, 3, 2, 2, 2, 3).mean(axis=(2, 4)), rtol=1e-14)


def test_rows_left_over_by_the_windows_get_no_gradient(rng):
    layer = hg.MaxPool2D(2)
    x = rng.standard_normal((1, 5, 5, 1))
    dx = layer.backward(np.ones(layer(x).shape))
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dx[:, 4], 0)
    np.testing.assert_array_equal(dx[:, :, 4], 0)
    assert dx.sum() == 4  # one position in each of the four windows


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("pool", [lambda: hg.MaxPool2D(2), lambda: hg.MaxPool2D(3, 2)])
def test_relu_and_max_pool_in_one_pass_equal_the_two_layers(ties, pool, rng):
    x = (
        rng.integers(-2, 3, (4, 7, 8, 3)).astype(float)
        if ties
        else rng.standard_normal((4, 7, 8, 3))
    )
    fused = hg.Sequential([hg.ReLU(), pool()])
    separate = [hg.ReLU(), pool()]
    assert [(type(a), tuple(map(type, b))) for a, b in fused._units()] == [
        (type(separate[1]), (hg.ReLU,))
    ]
    y = fused.forward(x)
    expected = separate[1].forward(separate[0].forward(x))
    np.testing.assert_array_equal(y, expected)
    g = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(fused.backward(g), separate[0].backward(separate[1].backward(g)))
    with fused.mode(False):  # evaluation mode finds the maxima only if asked for a gradient
        np.testing.assert_array_equal(fused.forward(x), expected)
        np.testing.assert_array_equal(
            fused.backward(g), separate[0].backward(separate[1].backward(g))
        )


def _conv_relu_pool(spatial, rng, padding, channels):
    conv_type, pool_type = (hg.Conv2D, hg.MaxPool2D) if spatial == 2 else (hg.Conv1D, hg.MaxPool1D)
    conv = conv_type(channels, 4, 3, padding=padding, rng=rng)
    return [conv, hg.ReLU(), pool_type(2)]


@pytest.mark.parametrize("spatial", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("first", [True, False])
def test_convolution_relu_and_max_pool_in_one_pass_equal_the_three_layers(
    spatial, padding, first, rng, formulation
):
    """The convolution gives its outputs in the pool's window order; values and gradients are
    those of the layers one after the other (to rounding: dW sums its rows in another order).
    Odd sizes leave an output row out of every window: it gets no gradient either way."""
    shape = (5, 9, 7, 2) if spatial == 2 else (5, 11, 2)
    x = rng.standard_normal(shape)
    layers = _conv_relu_pool(spatial, np.random.default_rng(3), padding, 2)
    separate = _conv_relu_pool(spatial, np.random.default_rng(3), padding, 2)
    head = [] if first else [hg.Tanh()]
    fused = hg.Sequential([*head, *layers, hg.Flatten()])
    units = fused._units()
    assert [len(chain) for _, chain in units] == [0] * len(head) + [2, 0]
    y = fused.forward(x)
    a = separate[2].forward(separate[1].forward(separate[0].forward(np.tanh(x) if head else x)))
    np.testing.assert_allclose(y, a.reshape(len(x), -1), rtol=0, atol=1e-13)
    g = rng.standard_normal(y.shape)
    ga = separate[2].backward(g.reshape(a.shape))
    dx = separate[0].backward(separate[1].backward(ga))
    if first:
        fused.zero_grad()
        fused.backward_params(g)  # the network's first chain: no input gradient
    else:
        dx = dx * (1 - np.tanh(x) ** 2)
        np.testing.assert_allclose(fused.backward(g), dx, rtol=0, atol=1e-12)
    for p, q in zip(layers[0].parameters(), separate[0].parameters(), strict=True):
        np.testing.assert_allclose(p.grad, q.grad, rtol=0, atol=1e-12)
    with fused.mode(False):  # evaluation mode runs the layers on their own
        assert [len(chain) for _, chain in fused._units()] == [0] * len(head) + [0, 1, 0]
        np.testing.assert_allclose(fused.forward(x), y, rtol=0, atol=1e-13)


def test_a_fused_backward_after_one_of_its_own_leaves_no_gradient_behind(rng, formulation):
    """The convolution's input gradient reuses one buffer whether it runs fused or alone: an
    output row the pool leaves out (odd height) gets no gradient after a backward of the
    convolution's own gave that row one."""
    x = rng.standard_normal((3, 9, 8, 2))
    layers = _conv_relu_pool(2, np.random.default_rng(3), 1, 2)
    conv = layers[0]
    z = conv.forward(x)
    conv.backward(rng.standard_normal(z.shape))  # every output row has a gradient
    net = hg.Sequential([hg.Tanh(), *layers])
    fresh = hg.Sequential([hg.Tanh(), *_conv_relu_pool(2, np.random.default_rng(3), 1, 2)])
    g = rng.standard_normal(net.forward(x).shape)
    fresh.forward(x)
    np.testing.assert_array_equal(net.backward(g), fresh.backward(g))


def test_a_convolution_run_with_its_pool_cannot_be_back_propagated_on_its_own(rng):
    model = hg.Sequential(_conv_relu_pool(2, rng, 1, 1))
    model.forward(rng.standard_normal((2, 4, 4, 1)))
    with pytest.raises(RuntimeError, match="ran fused with the ReLU and the max-pool"):
        model[0].backward(np.ones((2, 4, 4, 4)))


def test_the_pair_is_not_fused_when_a_layer_is_watched_or_a_subclass():
    class MyReLU(hg.ReLU):
        pass

    assert len(hg.Sequential([MyReLU(), hg.MaxPool2D(2)])._units()) == 2
    watched = hg.Sequential([hg.ReLU(), hg.MaxPool2D(2)])
    watched[0].forward = watched[0].forward
    assert len(watched._units()) == 2


def test_a_fused_relu_cannot_be_back_propagated_on_its_own(rng):
    model = hg.Sequential([hg.ReLU(), hg.MaxPool2D(2)])
    model.forward(rng.standard_normal((1, 4, 4, 1)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        model[0].backward(np.ones((1, 4, 4, 1)))
    with pytest.raises(RuntimeError, match="ran fused with the layers before it"):
        model[1].backward(np.ones((1, 2, 2, 1)))


def test_pools_keep_their_configuration():
    for layer in (
        hg.MaxPool2D(3, 2),
        hg.AvgPool2D((2, 3)),
        hg.MaxPool1D(4),
        hg.AvgPool1D(3, 1),
        hg.GlobalAvgPool(),
    ):
        twin = type(layer).from_config(layer.get_config())
        assert twin.get_config() == layer.get_config()
        assert repr(twin) == repr(layer)
    assert repr(hg.MaxPool2D(2)) == "MaxPool2D(2×2)"
    assert repr(hg.AvgPool2D(3, 1)) == "AvgPool2D(3×3, stride 1)"
    assert repr(hg.MaxPool1D(2)) == "MaxPool1D(2)"


@pytest.mark.parametrize(
    ("make", "x_shape", "message"),
    [
        (
            lambda: hg.MaxPool2D(2),
            (4, 16),
            r"MaxPool2D\(2×2\) expected input \(batch, height, width, channels\), got shape "
            r"\(4, 16\)",
        ),
        (
            lambda: hg.AvgPool2D(5),
            (1, 4, 4, 2),
            r"AvgPool2D\(5×5\) got input of shape \(1, 4, 4, 2\): its window is larger than the "
            r"input \(4×4\), so the output would be empty",
        ),
        (
            lambda: hg.MaxPool1D(3),
            (2, 2, 1),
            r"MaxPool1D\(3\) got input of shape \(2, 2, 1\): its window is larger",
        ),
        (
            lambda: hg.GlobalAvgPool(),
            (3, 4),
            r"GlobalAvgPool\(\) expected input \(batch, …, channels\) with at least one axis",
        ),
    ],
)
def test_bad_input_names_the_layer_and_the_shapes(make, x_shape, message):
    with pytest.raises(ValueError, match=message):
        make()(np.zeros(x_shape))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: hg.MaxPool2D(0), ValueError, "kernel_size must be >= 1, got 0"),
        (lambda: hg.AvgPool2D(2, 0), ValueError, "stride must be >= 1, got 0"),
        (lambda: hg.MaxPool1D(2.0), TypeError, "kernel_size must be an int, got 2.0"),
    ],
)
def test_bad_arguments_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()
