"""Conv2D and Conv1D: the windowed sum, its gradients, chunks, and the errors they name."""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg
import handgrad.nn.conv as conv_module


def loop_conv2d(x, W, b, stride, pads):
    """The convolution written as its definition, one output at a time."""
    (sh, sw), (top, bottom, left, right) = stride, pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, F = W.shape
    Ho = (xp.shape[1] - kh) // sh + 1
    Wo = (xp.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], Ho, Wo, F))
    for n in range(x.shape[0]):
        for i in range(Ho):
            for j in range(Wo):
                window = xp[n, i * sh : i * sh + kh, j * sw : j * sw + kw]
                for f in range(F):
                    out[n, i, j, f] = np.sum(window * W[..., f]) + b[f]
    return out


def pads(layer):
    """(top, bottom, left, right): the zeros the layer puts around its input."""
    g = layer._geometry
    return g.top, g.bottom, g.left, g.right


@st.composite
def conv2d_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    same = draw(st.booleans()) and sh == sw == 1
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, kh - 2 * ph), 7))
    W = draw(st.integers(max(1, kw - 2 * pw), 7))
    if same:
        H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return dict(
        kernel=(kh, kw),
        stride=(sh, sw),
        padding="same" if same else (ph, pw),
        shape=(draw(st.integers(1, 3)), H, W, draw(st.integers(1, 3))),
        out_channels=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@contextmanager
def by_shifts():
    """Every stride-1 convolution computed by flat shifts, however few its channels."""
    depth = conv_module.SHIFT_MIN_DEPTH
    conv_module.SHIFT_MIN_DEPTH = 0
    try:
        yield
    finally:
        conv_module.SHIFT_MIN_DEPTH = depth


@given(case=conv2d_cases())
def test_conv2d_gradients_match_finite_differences(case):
    check_conv2d_gradients(case)


@given(case=conv2d_cases())
def test_conv2d_by_shifts_gradients_match_finite_differences(case):
    with by_shifts():
        check_conv2d_gradients(case)


def check_conv2d_gradients(case):
    rng = np.random.default_rng(case["seed"])
    C = case["shape"][3]
    layer = hg.Conv2D(
        C,
        case["out_channels"],
        case["kernel"],
        stride=case["stride"],
        padding=case["padding"],
        rng=rng,
    )
    layer.bias.data[...] = rng.standard_normal(case["out_channels"])
    report = hg.gradcheck(layer, rng.standard_normal(case["shape"]), max_checks=60)
    assert report.passed, str(report)


@given(
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    length=st.integers(4, 9),
    batch=st.integers(1, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv1d_gradients_match_finite_differences(k, s, p, length, batch, c_in, c_out, seed):
    rng = np.random.default_rng(seed)
    layer = hg.Conv1D(c_in, c_out, k, stride=s, padding=p, rng=rng)
    layer.bias.data[...] = rng.standard_normal(c_out)
    report = hg.gradcheck(layer, rng.standard_normal((batch, length, c_in)), max_checks=60)
    assert report.passed, str(report)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "C"),
    [(3, 1, 1, 1), (3, 2, 0, 3), ((2, 3), (2, 1), (1, 0), 2), (1, 1, 0, 4), (4, 1, "same", 2)],
)
def test_conv2d_is_the_windowed_sum(kernel, stride, padding, C, rng, formulation):
    layer = hg.Conv2D(C, 3, kernel, stride=stride, padding=padding, rng=rng)
    layer.bias.data[...] = rng.standard_normal(3)
    x = rng.standard_normal((2, 7, 6, C))
    expected = loop_conv2d(x, layer.weight.data, layer.bias.data, layer.stride, pads(layer))
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: hg.Conv2D(16, 5, 3, padding=1), (3, 7, 6, 16)),  # by shifts as it is
        (lambda: hg.Conv2D(3, 4, 3, padding=1), (3, 7, 6, 3)),
        (lambda: hg.Conv2D(2, 3, (2, 3), padding="same"), (2, 5, 7, 2)),  # uneven padding
        (lambda: hg.Conv2D(2, 3, 1, padding=2), (2, 4, 3, 2)),  # padding wider than the kernel
        (lambda: hg.Conv2D(3, 2, (3, 1), padding=(2, 0)), (2, 5, 4, 3)),
        (lambda: hg.Conv1D(3, 4, 5, padding=1), (3, 9, 3)),
        (lambda: hg.Conv1D(2, 3, 4, padding="same"), (2, 6, 2)),
    ],
)
@pytest.mark.parametrize("chunked", [False, True])
def test_shifts_and_im2col_give_the_same_values_and_gradients(make, shape, chunked, rng):
    """The two ways of computing a stride-1 convolution agree to rounding: forward, dX, dW and
    db, in training and evaluation mode, in one chunk or one sample a chunk."""
    layer = make()
    layer.bias.data[...] = rng.standard_normal(layer.out_channels)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(layer(x).shape)

    def run():
        out = [layer(x), layer.backward(g), layer.weight.grad.copy(), layer.bias.grad.copy()]
        with layer.mode(False):
            out += [layer(x), layer.backward(g), layer.weight.grad.copy()]
        layer.zero_grad()
        layer(x)
        layer.backward_params(g)
        return [*out, layer.weight.grad.copy(), layer.bias.grad.copy()]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_module, "SHIFT_MIN_DEPTH", 10**9)
        im2col = run()
        patch.setattr(conv_module, "SHIFT_MIN_DEPTH", 0)
        if chunked:
            patch.setattr(conv_module, "SHIFT_CHUNK_BYTES", 1)
        shifts = run()
    expected = loop_conv2d(
        x if x.ndim == 4 else x[:, None],
        layer.weight.data if x.ndim == 4 else layer.weight.data[None],
        layer.bias.data,
        (1, 1),
        pads(layer),
    )
    np.testing.assert_allclose(shifts[0].reshape(expected.shape), expected, rtol=1e-12, atol=1e-12)
    for a, b in zip(im2col, shifts, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_same_padding_keeps_the_size_and_pads_the_odd_zero_at_the_end(rng):
    layer = hg.Conv2D(1, 1, 4, padding="same", rng=rng)
    assert layer(rng.standard_normal((1, 5, 6, 1))).shape == (1, 5, 6, 1)
    assert pads(layer) == (1, 2, 1, 2)  # as PyTorch pads an even kernel


def test_conv1d_is_conv2d_with_a_height_of_one(rng, formulation):
    c1 = hg.Conv1D(2, 3, 3, stride=2, padding=1, rng=rng)
    c2 = hg.Conv2D(2, 3, (1, 3), stride=(1, 2), padding=(0, 1), rng=rng)
    c2.weight.data[...] = c1.weight.data[None]
    c1.bias.data[...] = c2.bias.data[...] = rng.standard_normal(3)
    x = rng.standard_normal((4, 9, 2))
    np.testing.assert_allclose(c1(x), c2(x[:, None])[:, 0], rtol=1e-14)
    g = rng.standard_normal(c1(x).shape)
    np.testing.assert_allclose(c1.backward(g), c2.backward(g[:, None])[:, 0], rtol=1e-13)
    np.testing.assert_allclose(c1.weight.grad, c2.weight.grad[0], rtol=1e-13)


def test_weight_is_the_dense_layer_of_each_window(rng):
    """A 1×1 convolution is the Dense layer with the same weights, at every position."""
    conv = hg.Conv2D(3, 2, 1, rng=rng)
    dense = hg.Dense(3, 2, rng=rng)
    dense.weight.data[...] = conv.weight.data[0, 0]
    x = rng.standard_normal((2, 4, 5, 3))
    np.testing.assert_allclose(conv(x), dense(x.reshape(-1, 3)).reshape(2, 4, 5, 2), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunks_give_the_same_result_as_one_matrix(dtype, rng, monkeypatch, formulation):
    layer = hg.Conv2D(3, 4, 3, padding=1, rng=rng, dtype=dtype)
    layer.bias.data[...] = rng.standard_normal(4)
    x = rng.standard_normal((5, 6, 6, 3)).astype(dtype)
    g = rng.standard_normal((5, 6, 6, 4)).astype(dtype)
    whole = layer(x), layer.backward(g), layer.weight.grad.copy(), layer.bias.grad.copy()
    # One sample a chunk, and nothing kept for backward: every im2col matrix is rebuilt; the
    # input gradient in chunks of a few samples, the last one shorter.
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_module, "MAX_COLUMNS_BYTES", 0)
    monkeypatch.setattr(conv_module, "SHIFT_CHUNK_BYTES", 8000)
    chunked = layer(x), layer.backward(g), layer.weight.grad.copy(), layer.bias.grad.copy()
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        assert a.dtype == dtype


def test_backward_after_an_evaluation_forward_rebuilds_the_columns(rng, formulation):
    layer = hg.Conv2D(2, 2, 3, rng=rng)
    x, g = rng.standard_normal((3, 5, 5, 2)), rng.standard_normal((3, 3, 3, 2))
    layer(x)
    expected = layer.backward(g), layer.weight.grad.copy()
    with layer.mode(False):
        layer(x)
        got = layer.backward(g), layer.weight.grad.copy()
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_a_changing_batch_keeps_the_padding_zero(rng, formulation):
    layer = hg.Conv2D(1, 1, 3, padding=2, rng=rng)
    x = rng.standard_normal((4, 5, 5, 1))
    g = rng.standard_normal((4, 7, 7, 1))
    first = layer(x), layer.backward(g), layer.weight.grad.copy()
    for shape in ((1, 3, 3, 1), (2, 3, 10, 1)):  # other shapes in between
        y = layer(rng.standard_normal(shape) * 100)
        layer.backward(rng.standard_normal(y.shape) * 100)
    again = layer(x), layer.backward(g), layer.weight.grad.copy()
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_backward_params_fills_the_same_gradients(rng, formulation):
    layer = hg.Conv2D(2, 3, 3, stride=2, padding=1, rng=rng)
    x, g = rng.standard_normal((2, 7, 7, 2)), rng.standard_normal((2, 4, 4, 3))
    layer(x)
    layer.backward(g)
    expected = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer.zero_grad()
    layer(x)
    assert layer.backward_params(g) is None
    np.testing.assert_array_equal(layer.weight.grad, expected[0])
    np.testing.assert_array_equal(layer.bias.grad, expected[1])


def test_returned_arrays_belong_to_the_caller(rng, formulation):
    layer = hg.Conv2D(1, 2, 3, padding=1, rng=rng)
    x1, x2 = rng.standard_normal((2, 4, 4, 1)), rng.standard_normal((2, 4, 4, 1))
    y1 = layer(x1)
    dx1 = layer.backward(np.ones_like(y1))
    kept = y1.copy(), dx1.copy()
    layer(x2)
    layer.backward(np.full_like(y1, 2.0))
    np.testing.assert_array_equal(y1, kept[0])
    np.testing.assert_array_equal(dx1, kept[1])


def test_float32_stays_float32(rng, formulation):
    layer = hg.Conv2D(2, 3, 3, rng=rng, dtype=np.float32)
    y = layer(rng.standard_normal((2, 5, 5, 2)))
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


def test_he_initialisation_sees_each_window_as_dense_inputs():
    layer = hg.Conv2D(16, 64, 3, rng=0)
    # N(0, 2 / fan_in) with fan_in = 3·3·16 = 144
    assert layer.weight.data.std() == pytest.approx(np.sqrt(2 / 144), rel=0.05)
    np.testing.assert_array_equal(layer.bias.data, 0)


def test_config_rebuilds_the_layer():
    for layer in (
        hg.Conv2D(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dtype=np.float32),
        hg.Conv2D(1, 4, 3, padding="same"),
        hg.Conv1D(2, 5, 7, stride=3, padding=2),
        hg.Conv1D(2, 5, 4, padding="same"),
    ):
        config = layer.get_config()
        twin = type(layer).from_config(config)
        assert twin.get_config() == config
        assert type(layer).parameter_count(config) == sum(p.size for p in layer.parameters())


def test_reprs():
    assert repr(hg.Conv2D(1, 16, 3)) == "Conv2D(1→16, 3×3)"
    assert repr(hg.Conv2D(16, 32, 3, padding=1)) == "Conv2D(16→32, 3×3, padding 1)"
    assert repr(hg.Conv2D(3, 8, (3, 5), stride=2, padding=(1, 2))) == (
        "Conv2D(3→8, 3×5, stride 2, padding (1, 2))"
    )
    assert repr(hg.Conv1D(1, 8, 5, padding="same")) == "Conv1D(1→8, 5, padding same)"


@pytest.mark.parametrize(
    ("make", "x_shape", "error", "message"),
    [
        (
            lambda: hg.Conv2D(1, 16, 3),
            (128, 784),
            ValueError,
            r"Conv2D\(1→16, 3×3\) expected input \(batch, height, width, 1\), got shape "
            r"\(128, 784\): add hg\.Reshape\(\(28, 28, 1\)\) in front",
        ),
        (
            lambda: hg.Conv2D(3, 4, 3),
            (2, 8, 8, 1),
            ValueError,
            r"Conv2D\(3→4, 3×3\) expected input \(batch, height, width, 3\) with 3 channels on "
            r"the last axis, got shape \(2, 8, 8, 1\)",
        ),
        (
            lambda: hg.Conv2D(1, 2, 5),
            (2, 3, 3, 1),
            ValueError,
            r"Conv2D\(1→2, 5×5\) got input of shape \(2, 3, 3, 1\): its 5×5 kernel is larger "
            r"than the padded input \(3×3\), so the output would be empty",
        ),
        (
            lambda: hg.Conv1D(1, 2, 3),
            (4, 40),
            ValueError,
            r"Conv1D\(1→2, 3\) expected input \(batch, length, 1\), got shape \(4, 40\): add "
            r"hg\.Reshape\(\(40, 1\)\) in front",
        ),
        (
            lambda: hg.Conv1D(1, 2, 9, padding=1),
            (4, 5, 1),
            ValueError,
            r"kernel is larger than the padded input \(7\)",
        ),
    ],
)
def test_bad_input_names_the_layer_and_the_shapes(make, x_shape, error, message):
    with pytest.raises(error, match=message):
        make()(np.zeros(x_shape))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: hg.Conv2D(1, 2, 3, stride=0), ValueError, "stride must be >= 1, got 0"),
        (lambda: hg.Conv2D(1, 2, 3, padding=-1), ValueError, "padding must be >= 0, got -1"),
        (lambda: hg.Conv2D(1, 2, 0), ValueError, "kernel_size must be >= 1, got 0"),
        (
            lambda: hg.Conv2D(1, 2, 3, stride=2, padding="same"),
            ValueError,
            r"Conv2D\(1→2, 3×3\): padding='same' keeps the size only at stride 1, got stride "
            r"\(2, 2\)",
        ),
        (
            lambda: hg.Conv1D(1, 2, 3, stride=2, padding="same"),
            ValueError,
            r"Conv1D\(1→2, 3\): padding='same' keeps the length only at stride 1",
        ),
        (lambda: hg.Conv2D(1, 2, 3, padding="valid"), ValueError, "padding must be an int"),
        (lambda: hg.Conv2D(1, 2, (3, 3, 3)), ValueError, "kernel_size must be an int or a pair"),
        (lambda: hg.Conv2D(0, 2, 3), ValueError, "in_channels must be >= 1, got 0"),
        (lambda: hg.Conv1D(1, 2, 2.5), TypeError, "kernel_size must be an int, got 2.5"),
    ],
)
def test_bad_arguments_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_grad_out_of_the_wrong_shape_is_named(rng):
    layer = hg.Conv2D(1, 2, 3)
    layer(rng.standard_normal((2, 5, 5, 1)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(2, 3, 3, 2\)"):
        layer.backward(np.ones((2, 3, 3, 3)))
