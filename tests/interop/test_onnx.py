"""export_onnx: the file is valid ONNX, and onnxruntime computes from it what ``predict`` does."""

import importlib.util
import math
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import handgrad as hg
from handgrad.interop.onnx import MAX_OPSET, MIN_OPSET, ir_version_for

TOL = {np.float32: 1e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]
BATCHES = (1, 7, 64)  # the batch dimension is dynamic: one file serves them all
OPSETS = sorted({MIN_OPSET, 11, 13, 16, 20, MAX_OPSET})

LAYERS = {
    "relu": hg.ReLU,
    "leaky_relu": lambda: hg.LeakyReLU(0.1),
    "sigmoid": hg.Sigmoid,
    "tanh": hg.Tanh,
    "softmax": hg.Softmax,
    "identity": hg.Identity,
    "gelu": hg.GELU,
    "gelu_tanh": lambda: hg.GELU(approximate="tanh"),
    "silu": hg.SiLU,
    "dropout": lambda: hg.Dropout(0.5, rng=0),
}


class Scale(hg.Layer):
    """A user-defined layer: y = x ⊙ s."""

    def __init__(self, n):
        self.s = hg.Parameter(np.full(n, 2.0))

    def forward(self, x):
        return x * self.s.data


def dense(rng, n_in, n_out, dtype):
    layer = hg.Dense(n_in, n_out, rng=rng, dtype=dtype)
    layer.bias.data[...] = rng.standard_normal(n_out)  # non-zero, so a wrong bias shows
    return layer


def mlp(rng, sizes, make_activation, dtype):
    """Dense layers of the given sizes with an activation between each two."""
    layers = []
    for a, b in pairwise(sizes):
        if layers:
            layers.append(make_activation())
        layers.append(dense(rng, a, b, dtype))
    return hg.Sequential(layers)


def export(model, tmp_path, opset=13, name="model.onnx", **kwargs):
    """Export, check the file with onnx's full checker, and open it in onnxruntime."""
    path = tmp_path / name
    hg.export_onnx(model, path, opset=opset, **kwargs)
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return onnx.load(str(path)), session


def assert_runtime_matches(model, session, x_batches, dtype):
    tol = TOL[dtype]
    for x in x_batches:
        x = x.astype(dtype)
        (got,) = session.run(["output"], {"input": x})
        expected = model.predict(x)
        assert got.dtype == expected.dtype == dtype
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def random_batches(rng, n_in, scale=3.0):
    return [rng.standard_normal((batch, n_in)) * scale for batch in BATCHES]


def op_types(proto):
    return [node.op_type for node in proto.graph.node]


# Every layer, both dtypes, across opsets -------------------------------------------------------


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_each_layer_runs_in_onnxruntime_as_in_handgrad(name, dtype, opset, tmp_path):
    rng = np.random.default_rng([opset, len(name)])
    model = mlp(rng, [5, 8, 6, 3], LAYERS[name], dtype)
    _, session = export(model, tmp_path, opset)
    assert_runtime_matches(model, session, random_batches(rng, 5), dtype)


@pytest.mark.parametrize("opset", range(MIN_OPSET, MAX_OPSET + 1))
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_supported_opset_with_every_layer(opset, dtype, tmp_path):
    rng = np.random.default_rng(opset)
    layers = [dense(rng, 4, 6, dtype)]
    for make in LAYERS.values():
        layers += [make(), dense(rng, 6, 6, dtype)]
    model = hg.Sequential(layers)
    proto, session = export(model, tmp_path, opset)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
    assert proto.ir_version == ir_version_for(opset)
    assert_runtime_matches(model, session, random_batches(rng, 4), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(8))
def test_random_networks(seed, dtype, tmp_path):
    rng = np.random.default_rng(seed)
    sizes = [int(n) for n in rng.integers(1, 10, rng.integers(2, 6))]
    names = sorted(LAYERS)
    model = mlp(rng, sizes, lambda: LAYERS[names[rng.integers(len(names))]](), dtype)
    opset = int(rng.integers(MIN_OPSET, MAX_OPSET + 1))
    _, session = export(model, tmp_path, opset)
    assert_runtime_matches(model, session, random_batches(rng, sizes[0]), dtype)


@pytest.mark.parametrize("opset", [13, 20])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_float64_gelu_over_a_wide_range(approximate, opset, tmp_path):
    # |x|/√2 crosses the erfc graph's split at 2.5 (x ≈ ±3.54); far out, Φ is 0 or 1.
    x = np.linspace(-40, 40, 16004).reshape(4, -1)
    model = hg.Sequential([hg.GELU(approximate)])
    _, session = export(model, tmp_path, opset)
    (got,) = session.run(["output"], {"input": x})
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-12, atol=1e-12)
    if approximate == "none":  # and against the standard library's erfc, independently:
        # the graph is good to a few units in the last place (8.9e-16·max(1, |y|) measured).
        exact = np.array([[v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in row] for row in x])
        assert np.all(np.abs(got - exact) <= 4e-15 * np.maximum(1, np.abs(exact)))


@pytest.mark.parametrize("alpha", [1 + 1e-9, 1 - 1e-9, 0.1, 1 / 3])
def test_float64_leaky_relu_keeps_every_digit_of_alpha(alpha, tmp_path):
    # LeakyRelu's alpha attribute is a float32, and onnxruntime's optimizer drops a Mul by a
    # double that rounds to 1 in float32 (when its other input is not the graph's input, hence the
    # Dense in front): neither may cost α its float64 digits.
    x = np.linspace(-100, 100, 2002).reshape(2, -1)
    through = hg.Dense(x.shape[1], x.shape[1], init="zeros")
    through.weight.data[...] = np.eye(x.shape[1])  # x·I + 0 = x exactly
    model = hg.Sequential([through, hg.LeakyReLU(alpha)])
    _, session = export(model, tmp_path, 13)
    (got,) = session.run(["output"], {"input": x})
    expected = model.predict(x)
    assert not np.allclose(expected[x < 0], x[x < 0] * np.float32(alpha), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# The graph -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_graph_interface_and_weights(dtype, tmp_path):
    rng = np.random.default_rng(3)
    model = mlp(rng, [4, 6, 2], hg.ReLU, dtype)
    proto, _ = export(model, tmp_path, 13)
    elem_type = onnx.TensorProto.FLOAT if dtype == np.float32 else onnx.TensorProto.DOUBLE
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("input", "output")
    for info, width in [(inp, 4), (out, 2)]:
        assert info.type.tensor_type.elem_type == elem_type
        batch, features = info.type.tensor_type.shape.dim
        assert (batch.dim_param, features.dim_value) == ("batch", width)

    assert op_types(proto) == ["Gemm", "Relu", "Gemm"]
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert sorted(stored) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    for name, p in model.named_parameters():
        assert stored[name].dtype == dtype
        np.testing.assert_array_equal(stored[name], p.data)  # (n_in, n_out), as handgrad holds it
    gemm = proto.graph.node[0]
    assert list(gemm.input) == ["input", "0.weight", "0.bias"]
    assert {a.name: onnx.helper.get_attribute_value(a) for a in gemm.attribute}["transB"] == 0

    assert proto.producer_name == "handgrad"
    assert proto.producer_version == hg.__version__
    assert f"handgrad {hg.__version__}" in proto.doc_string
    assert "Dense(4→6), ReLU(), Dense(6→2)" in proto.graph.doc_string


@pytest.mark.parametrize(
    ("layer", "dtype", "opset", "present", "absent"),
    [
        (hg.LeakyReLU(0.1), np.float32, 13, {"LeakyRelu"}, {"Where"}),
        (hg.LeakyReLU(0.1), np.float64, 13, {"Where"}, {"LeakyRelu"}),
        (hg.LeakyReLU(0.1), np.float64, 16, {"Where"}, {"LeakyRelu"}),
        (hg.GELU(), np.float32, 13, {"Erf"}, {"Gelu"}),
        (hg.GELU(), np.float32, 20, {"Gelu"}, {"Erf"}),
        (hg.GELU(), np.float64, 20, {"Where", "Exp"}, {"Gelu", "Erf"}),
        (hg.GELU("tanh"), np.float32, 13, {"Tanh"}, {"Gelu"}),
        (hg.GELU("tanh"), np.float32, 20, {"Gelu"}, {"Tanh"}),
        (hg.GELU("tanh"), np.float64, 20, {"Tanh"}, {"Gelu"}),
    ],
)
def test_operators_chosen_for_dtype_and_opset(layer, dtype, opset, present, absent, tmp_path):
    model = hg.Sequential([hg.Dense(3, 3, rng=0, dtype=dtype), layer])
    proto, _ = export(model, tmp_path, opset)
    ops = set(op_types(proto))
    assert present <= ops
    assert not absent & ops


def test_float32_operators_carry_the_layers_settings(tmp_path):
    model = hg.Sequential(
        [hg.Dense(3, 3, rng=0, dtype=np.float32), hg.LeakyReLU(0.2), hg.GELU("tanh")]
    )
    proto, _ = export(model, tmp_path, 20)
    attrs = {
        n.op_type: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        for n in proto.graph.node
    }
    assert attrs["LeakyRelu"]["alpha"] == np.float32(0.2)
    assert attrs["Gelu"]["approximate"] == b"tanh"


@pytest.mark.parametrize(("opset", "axis"), [(11, 1), (12, 1), (13, -1), (MAX_OPSET, -1)])
def test_softmax_axis_follows_the_opset(opset, axis, tmp_path):
    proto, _ = export(hg.Sequential([hg.Dense(3, 4, rng=0), hg.Softmax()]), tmp_path, opset)
    (softmax,) = [n for n in proto.graph.node if n.op_type == "Softmax"]
    assert onnx.helper.get_attribute_value(softmax.attribute[0]) == axis


def test_nested_sequentials_are_flattened(tmp_path):
    rng = np.random.default_rng(5)
    inner = hg.Sequential([dense(rng, 6, 6, np.float64), hg.Tanh()])
    model = hg.Sequential(
        [
            dense(rng, 3, 6, np.float64),
            hg.Sequential([inner, hg.ReLU()]),
            dense(rng, 6, 2, np.float64),
        ]
    )
    proto, session = export(model, tmp_path)
    assert op_types(proto) == ["Gemm", "Gemm", "Tanh", "Relu", "Gemm"]
    names = sorted(t.name for t in proto.graph.initializer)
    assert names == sorted(name for name, _ in model.named_parameters())
    assert "1.0.0.weight" in names
    assert_runtime_matches(model, session, random_batches(rng, 3), np.float64)


def test_dropout_is_left_out_even_in_training_mode(tmp_path):
    rng = np.random.default_rng(6)
    model = hg.Sequential(
        [dense(rng, 4, 5, np.float64), hg.Dropout(0.5, rng=1), hg.ReLU(), hg.Dropout(0.2, rng=2)]
    )
    model.train()
    proto, session = export(model, tmp_path)
    assert op_types(proto) == ["Gemm", "Relu"]
    assert proto.graph.node[-1].output[0] == "output"
    assert model.training
    assert_runtime_matches(model, session, random_batches(rng, 4), np.float64)


def test_a_model_without_nodes_copies_its_input(tmp_path):
    model = hg.Sequential([hg.Dropout(0.3)])
    proto, session = export(model, tmp_path)
    assert op_types(proto) == ["Identity"]
    batch, features = proto.graph.input[0].type.tensor_type.shape.dim
    assert (batch.dim_param, features.dim_param) == ("batch", "features")
    x = np.random.default_rng(0).standard_normal((3, 7))
    np.testing.assert_array_equal(session.run(["output"], {"input": x})[0], x)


def test_a_model_without_dense_has_a_dynamic_feature_dimension(tmp_path):
    model = hg.Sequential([hg.Tanh(), hg.Softmax()])
    proto, session = export(model, tmp_path)
    assert proto.graph.output[0].type.tensor_type.shape.dim[1].dim_param == "features"
    rng = np.random.default_rng(1)
    for width in (1, 9):
        assert_runtime_matches(model, session, random_batches(rng, width), np.float64)


# What export leaves alone, and what it writes ---------------------------------------------------


def test_export_leaves_the_model_as_it_was(tmp_path):
    rng = np.random.default_rng(8)
    model = mlp(rng, [4, 6, 6, 3], hg.GELU, np.float32)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    model.eval()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    out_before = model.predict(x)
    export(model, tmp_path, 20)
    assert not model.training
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])
    np.testing.assert_array_equal(model.predict(x), out_before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_trained_model_exports(dtype, tmp_path):
    rng = np.random.default_rng(9)
    X = rng.standard_normal((300, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    model = hg.Sequential(
        [
            hg.Dense(6, 16, rng=rng, dtype=dtype),
            hg.LeakyReLU(0.05),
            hg.Dropout(0.1, rng=rng),
            hg.Dense(16, 3, rng=rng, dtype=dtype),
        ]
    )
    start = model[0].weight.data.copy()
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.Adam(model.parameters(), lr=1e-2),
        epochs=5,
        seed=0,
    )
    assert history.loss[-1] < history.loss[0]
    assert not np.array_equal(model[0].weight.data, start)
    _, session = export(model, tmp_path)
    assert_runtime_matches(model, session, [X, X[:1]], dtype)


def test_returns_what_it_writes_and_the_same_bytes_each_time(tmp_path):
    model = mlp(np.random.default_rng(10), [3, 5, 2], hg.GELU, np.float64)
    first = hg.export_onnx(model, tmp_path / "a.onnx")
    hg.export_onnx(model, str(tmp_path / "b.onnx"))
    data = (tmp_path / "a.onnx").read_bytes()
    assert data == first.SerializeToString()
    assert data == (tmp_path / "b.onnx").read_bytes()


def test_the_example_script(tmp_path, capsys):
    script = Path(__file__).resolve().parents[2] / "examples" / "export_onnx.py"
    spec = importlib.util.spec_from_file_location("export_onnx_example", script)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(str(tmp_path))
    out = capsys.readouterr().out
    for dtype in ("float32", "float64"):
        onnx.checker.check_model(str(tmp_path / f"classifier_{dtype}.onnx"), full_check=True)
    assert out.count("same class as predict: 100.0%") == 2


@pytest.mark.parametrize("opset", range(MIN_OPSET, MAX_OPSET + 1))
def test_ir_version_is_the_lowest_the_opset_allows(opset):
    lowest = onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])
    assert ir_version_for(opset) == lowest


# Errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            lambda: [hg.Dense(2, 2, rng=0), Scale(2)],
            "model[1] (Scale()) has no ONNX form: export_onnx converts only AvgPool1D, AvgPool2D, "
            "BatchNorm, Conv1D, Conv2D, Dense, Flatten, GELU, GlobalAvgPool, Identity, LayerNorm, "
            "LeakyReLU, MaxPool1D, MaxPool2D, ReLU, Reshape, Residual, SiLU, Sigmoid, Softmax, "
            "Tanh, Dropout and Sequential (not subclasses, whose forward may differ), got Scale",
        ),
        (
            lambda: [hg.Dense(2, 2, rng=0), hg.Sequential([hg.ReLU(), Scale(2)])],
            "model[1][1] (Scale()) has no ONNX form",
        ),
        (
            lambda: [type("MyReLU", (hg.ReLU,), {})()],
            "model[0] (MyReLU()) has no ONNX form",
        ),
    ],
)
def test_a_layer_without_onnx_form_is_named_with_its_position(layers, message, tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError) as info:
        hg.export_onnx(hg.Sequential(layers()), path)
    assert str(info.value).startswith(message)
    assert not path.exists()


def test_dense_sizes_that_do_not_chain(tmp_path):
    model = hg.Sequential([hg.Dense(3, 4, rng=0), hg.ReLU(), hg.Dense(5, 2, rng=0)])
    with pytest.raises(ValueError) as info:
        hg.export_onnx(model, tmp_path / "m.onnx")
    assert str(info.value) == (
        "model[2] Dense(5→2) expects 5 input features, but the Dense before it, "
        "model[0] Dense(3→4), gives 4"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"model": hg.Dense(2, 2, rng=0)},
            TypeError,
            "model must be a handgrad Sequential, got a Dense; "
            "wrap a single layer as hg.Sequential([layer])",
        ),
        ({"model": [hg.ReLU()]}, TypeError, "model must be a handgrad Sequential, got a list"),
        ({"path": 3}, TypeError, "path must be a str or os.PathLike naming the file, got 3 (int)"),
        ({"path": b"m.onnx"}, TypeError, "path must be a str or os.PathLike naming the file"),
        ({"opset": "13"}, TypeError, "opset must be an integer, got '13' (str)"),
        ({"opset": 13.0}, TypeError, "opset must be an integer, got 13.0 (float)"),
        ({"opset": True}, TypeError, "opset must be an integer, got True (a bool)"),
        ({"opset": 8}, ValueError, f"opset must be in [9, {MAX_OPSET}], got 8"),
        ({"opset": MAX_OPSET + 1}, ValueError, f"opset must be in [9, {MAX_OPSET}], got"),
    ],
)
def test_bad_arguments(kwargs, error, message, tmp_path):
    args = {"model": hg.Sequential([hg.Dense(2, 2, rng=0)]), "path": tmp_path / "m.onnx"}
    args.update(kwargs)
    with pytest.raises(error) as info:
        hg.export_onnx(**args)
    assert str(info.value).startswith(message)
    assert not (tmp_path / "m.onnx").exists()


def test_path_is_a_folder_or_in_a_missing_folder(tmp_path):
    model = hg.Sequential([hg.Dense(2, 2, rng=0)])
    with pytest.raises(ValueError) as info:
        hg.export_onnx(model, tmp_path)
    assert str(info.value) == f"path must name a file, got {str(tmp_path)!r}, which is a folder"
    missing = tmp_path / "no" / "m.onnx"
    with pytest.raises(ValueError) as info:
        hg.export_onnx(model, missing)
    assert str(info.value) == (
        f"path's folder must exist, got {str(missing)!r}; {str(missing.parent)!r} is none"
    )


def test_an_opset_newer_than_the_installed_onnx(monkeypatch, tmp_path):
    monkeypatch.setattr(onnx.defs, "onnx_opset_version", lambda: 20)
    with pytest.raises(ValueError) as info:
        hg.export_onnx(hg.Sequential([hg.ReLU()]), tmp_path / "m.onnx", opset=21)
    assert str(info.value) == (
        f"opset 21 is newer than the installed onnx {onnx.__version__} knows (up to 20); "
        "choose opset <= 20 or upgrade onnx"
    )


def test_without_onnx_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ImportError) as info:
        hg.export_onnx(hg.Sequential([hg.ReLU()]), tmp_path / "m.onnx")
    assert "pip install 'handgrad[onnx]'" in str(info.value)


def test_importing_handgrad_does_not_import_onnx():
    code = "import sys, handgrad; print(sorted({'onnx', 'onnxruntime'} & set(sys.modules)))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"


# Convolution, pooling and normalisation -----------------------------------------------------

#: Each new layer in a small network, with the shape of one row of its input. The float64 forms
#: of Conv and AveragePool slice the padded input at strides, which Slice does from opset 10.
CNN_LAYERS = {
    "conv2d": (
        lambda rng, dt: [hg.Conv2D(3, 4, 3, padding=1, rng=rng, dtype=dt)],
        (6, 5, 3),
    ),
    "conv2d_strided": (
        lambda rng, dt: [hg.Conv2D(3, 2, (2, 3), stride=(2, 1), padding=(1, 0), rng=rng, dtype=dt)],
        (7, 6, 3),
    ),
    "conv2d_same_even": (
        lambda rng, dt: [hg.Conv2D(2, 3, 4, padding="same", rng=rng, dtype=dt)],
        (5, 6, 2),
    ),
    "conv1d": (
        lambda rng, dt: [hg.Conv1D(2, 3, 5, stride=2, padding=2, rng=rng, dtype=dt)],
        (11, 2),
    ),
    "max_pool2d": (lambda rng, dt: [hg.MaxPool2D(2)], (5, 6, 3)),
    "max_pool2d_overlapping": (lambda rng, dt: [hg.MaxPool2D(3, 1)], (5, 6, 3)),
    "avg_pool2d": (lambda rng, dt: [hg.AvgPool2D((2, 3), (1, 2))], (5, 7, 3)),
    "max_pool1d": (lambda rng, dt: [hg.MaxPool1D(3, 2)], (9, 2)),
    "avg_pool1d": (lambda rng, dt: [hg.AvgPool1D(2)], (9, 2)),
    "global_avg_pool2d": (lambda rng, dt: [hg.GlobalAvgPool()], (4, 5, 3)),
    "global_avg_pool1d": (lambda rng, dt: [hg.GlobalAvgPool()], (6, 3)),
    "flatten": (lambda rng, dt: [hg.Flatten(), dense(rng, 60, 4, dt)], (4, 5, 3)),
    "reshape": (
        lambda rng, dt: [hg.Reshape((4, 5, 3)), hg.Conv2D(3, 2, 3, rng=rng, dtype=dt)],
        (60,),
    ),
    "batch_norm2d": (lambda rng, dt: [batch_norm(rng, 3, dt)], (4, 4, 3)),
    "batch_norm": (lambda rng, dt: [batch_norm(rng, 5, dt)], (5,)),
    "layer_norm": (lambda rng, dt: [layer_norm(rng, (5, 3), dt)], (4, 5, 3)),
    "residual": (
        lambda rng, dt: [
            hg.Residual(
                hg.Sequential([hg.Conv2D(3, 3, 3, padding="same", rng=rng, dtype=dt), hg.ReLU()])
            )
        ],
        (4, 4, 3),
    ),
}


def batch_norm(rng, n, dtype):
    layer = hg.BatchNorm(n, dtype=dtype)
    layer.weight.data[...] = rng.standard_normal(n)
    layer.bias.data[...] = rng.standard_normal(n)
    layer.running_mean.data[...] = rng.standard_normal(n)
    layer.running_var.data[...] = rng.random(n) + 0.5
    return layer


def layer_norm(rng, shape, dtype):
    layer = hg.LayerNorm(shape, dtype=dtype)
    layer.weight.data[...] = rng.standard_normal(shape)
    layer.bias.data[...] = rng.standard_normal(shape)
    return layer


def image_batches(rng, row, scale=3.0):
    return [rng.standard_normal((batch, *row)) * scale for batch in BATCHES]


CNN_OPSETS = [10, 13, 17, 18, MAX_OPSET]


@pytest.mark.parametrize("opset", CNN_OPSETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CNN_LAYERS))
def test_each_new_layer_runs_in_onnxruntime_as_in_handgrad(name, dtype, opset, tmp_path):
    rng = np.random.default_rng([opset, len(name), 12])
    make, row = CNN_LAYERS[name]
    model = hg.Sequential(make(rng, dtype))
    if not model.parameters():  # a network without weights computes in float64: give it some
        model = hg.Sequential([*model.layers, batch_norm(rng, row[-1], dtype)])
    for _, layer in model.leaves():
        if isinstance(layer, (hg.Conv1D, hg.Conv2D)):  # non-zero, so a wrong bias shows
            layer.bias.data[...] = rng.standard_normal(layer.bias.shape)
    _, session = export(model, tmp_path, opset, input_shape=row)
    assert_runtime_matches(model, session, image_batches(rng, row), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_cnn_takes_its_flat_rows_and_keeps_handgrads_feature_order(dtype, tmp_path):
    from helpers.saving import cnn

    rng = np.random.default_rng(7)
    model = cnn(dtype)
    for _, state in model.named_state():
        state.data[...] = rng.random(state.shape) + 0.5
    proto, session = export(model, tmp_path, 13, input_shape=64)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 64]
    assert [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim][1:] == [3]
    stored = {t.name for t in proto.graph.initializer}
    assert {"2.running_mean", "2.running_var", "8.weight", "1.bias"} <= stored
    ops = {"BatchNormalization", "MaxPool", "Add", "Flatten", "Reshape", "Transpose"}
    # In float64 Conv and AveragePool are written as slices and products (onnxruntime has no
    # double kernel for them).
    ops |= (
        {"Conv", "AveragePool", "GlobalAveragePool"}
        if dtype == np.float32
        else {"MatMul", "Slice", "ReduceMean"}
    )
    assert ops <= set(op_types(proto))
    assert_runtime_matches(model, session, random_batches(rng, 64), dtype)


def test_a_conv_network_needs_its_input_shape(tmp_path):
    model = hg.Sequential([hg.Conv2D(1, 2, 3), hg.Flatten()])
    with pytest.raises(
        ValueError,
        match=r"its first layer takes rows \(any, any, 1\)\); pass "
        r"input_shape=, e.g. input_shape=\(28, 28, 1\)",
    ):
        hg.export_onnx(model, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"does not take rows of shape \(2, 2, 1\)"):
        hg.export_onnx(model, tmp_path / "m.onnx", input_shape=(2, 2, 1))


def test_float64_strided_windows_need_opset_10(tmp_path):
    model = hg.Sequential([hg.Conv2D(1, 2, 3, stride=2, dtype=np.float64)])
    with pytest.raises(ValueError, match="Slice's steps, which ONNX has from opset 10"):
        hg.export_onnx(model, tmp_path / "m.onnx", 9, input_shape=(7, 7, 1))


def test_export_leaves_the_models_caches_and_state(tmp_path, rng):
    from helpers.saving import cnn

    model = cnn()
    x = rng.standard_normal((4, 64))
    model.forward(x)
    before = [s.data.copy() for _, s in model.named_state()]
    cached = model[1]._cache
    hg.export_onnx(model, tmp_path / "m.onnx", input_shape=64)
    assert model[1]._cache is cached and model.training
    for (_, s), b in zip(model.named_state(), before, strict=True):
        np.testing.assert_array_equal(s.data, b)
