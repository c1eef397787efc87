"""handgrad train --layers: the spec's items, the networks they build, and their errors."""

import argparse

import numpy as np
import onnxruntime as ort
import pytest
from helpers.cli import one_line_error

import handgrad as hg
from handgrad.cli import layer_spec, main


def test_widths_alone_stay_a_dense_network():
    assert layer_spec.parse("128, 64") == (128, 64)
    assert layer_spec.parse("none") == ()
    assert layer_spec.is_dense((128, 64)) and not layer_spec.is_dense(("conv8k3", 16))


def test_items_are_read_whatever_their_case():
    assert layer_spec.parse("Conv32K3,MaxPool2,flatten,BN,drop0.25,128") == (
        "conv32k3", "maxpool2", "flatten", "bn", "drop0.25", 128,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("64,x", "expected a width (128) or a layer: convCkK, maxpoolK, avgpoolK, gap, flatten, "
                 "bn, ln or dropP (see --help), got 'x' (item 2 of '64,x')"),
        ("0", "expected a width of at least 1 (128), got '0'"),
        ("conv32,maxpool2", "expected a convolution convCkK[sS][pP]: C filters, K wide, stride S, "
                            "padding P (conv32k3), got 'conv32' (item 1 of 'conv32,maxpool2')"),
        ("conv0k3", "got 'conv0k3'"),
        ("conv8k3s0", "got 'conv8k3s0'"),
        ("maxpool", "expected a pool maxpoolK[sS] or avgpoolK[sS] (maxpool2), got 'maxpool'"),
        ("avgpool2x", "got 'avgpool2x'"),
        ("drop1.5", "expected dropout dropP with P in [0, 1) (drop0.25), got 'drop1.5'"),
    ],
)  # fmt: skip
def test_a_bad_item_is_named_with_what_was_expected(text, message):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        layer_spec.parse(text)
    assert message in str(info.value)


def build(text, row_shape=(8, 8, 1), n_in=64, **kwargs):
    options = dict(activation="relu", dropout=0.0, dtype=np.float64)
    options.update(kwargs)
    return layer_spec.build(
        layer_spec.parse(text), n_in, row_shape, 10, seeds=np.random.SeedSequence(0), **options
    )


def test_a_cnn_from_its_items():
    model = build("conv8k3,maxpool2,conv16k3s2,bn,drop0.25,32")
    assert [repr(layer) for layer in model] == [
        "Reshape((8, 8, 1))",
        "Conv2D(1→8, 3×3, padding same)",
        "ReLU()",
        "MaxPool2D(2×2)",
        "Conv2D(8→16, 3×3, stride 2, padding 1)",
        "ReLU()",
        "BatchNorm(16)",
        "Dropout(p=0.25)",
        "Flatten()",
        "Dense(64→32)",
        "ReLU()",
        "Dense(32→10)",
    ]
    assert model[1].weight.data.std() == pytest.approx(np.sqrt(2 / 9), rel=0.3)  # He


def test_the_same_items_make_1d_layers_on_signals():
    model = build("conv4k5,avgpool2,gap,ln", row_shape=(40, 1), n_in=40)
    assert [type(layer).__name__ for layer in model] == [
        "Reshape", "Conv1D", "ReLU", "AvgPool1D", "GlobalAvgPool", "LayerNorm", "Dense",
    ]  # fmt: skip
    assert model(np.zeros((2, 40))).shape == (2, 10)


def test_the_same_seed_builds_the_same_weights():
    a, b = build("conv8k3,64", dropout=0.1), build("conv8k3,64", dropout=0.1)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("conv8k3,flatten,conv4k3", {}, "--layers item 3 'conv4k3': this layer needs images, but "
                                        "the rows are flat by then (after 'flatten')"),
        ("32,maxpool2", {}, "--layers item 2 'maxpool2': this layer needs images, but the rows are "
                            "flat by then (after '32')"),
        ("conv8k3", {"row_shape": None, "n_in": 5}, "--layers item 1 'conv8k3': this layer needs "
                                                    "images, but the data's rows are 5 features"),
        ("conv8k3,maxpool4,maxpool4", {}, "--layers item 3 'maxpool4': MaxPool2D(4×4) got input "
                                          "of shape (1, 2, 2, 8): its window is larger than the "
                                          "input (2×2)"),
        ("conv8k9p0", {}, "--layers item 1 'conv8k9p0': Conv2D(1→8, 9×9) got input of shape "
                          "(1, 8, 8, 1): its 9×9 kernel is larger than the padded input (8×8)"),
    ],
)  # fmt: skip
def test_a_network_the_data_cannot_take_names_the_item(text, kwargs, message):
    with pytest.raises(ValueError) as info:
        build(text, **kwargs)
    assert str(info.value).startswith(message)


def test_the_command_trains_exports_and_traces_a_cnn(tmp_path, capsys):
    out, onnx_path = tmp_path / "cnn.safetensors", tmp_path / "cnn.onnx"
    argv = ["train", "--dataset", "digits", "--layers", "conv8k3,maxpool2,bn,32", "--epochs", "2",
            "--verbose", "0", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    model = hg.load(out)
    assert model.metadata["training"]["layers"] == ["conv8k3", "maxpool2", "bn", 32]
    scale = np.array(model.metadata["standardize"]["scale"])
    assert np.all(scale == scale[0])  # images are standardised as a whole
    assert main(["summary", str(out)]) == 0
    assert "Conv2D(1→8, 3×3, padding same)  (batch, 8, 8, 8)" in capsys.readouterr().out
    assert main(["export", str(out), "--onnx", str(onnx_path)]) == 0
    assert "the standardisation is the graph's first two nodes" in capsys.readouterr().out
    digits = hg.datasets.load_digits()
    mean = np.array(model.metadata["standardize"]["mean"])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(["output"], {"input": digits.X_test})
    expected = model.predict(((digits.X_test - mean) / scale).astype(np.float32))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert main(["trace", str(out), "--dataset", "digits", "--row", "2"]) == 0
    assert "one element worked out" in capsys.readouterr().out


def test_a_bad_spec_is_one_line_naming_the_item(capsys):
    err = one_line_error(capsys, ["train", "--dataset", "digits", "--layers", "conv8,64"])
    assert "argument --layers: expected a convolution convCkK[sS][pP]" in err
    assert "got 'conv8' (item 1 of 'conv8,64')" in err
    err = one_line_error(
        capsys, ["train", "--dataset", "digits", "--layers", "64,conv8k3", "--epochs", "1"]
    )
    assert "--layers item 2 'conv8k3': this layer needs images" in err


def test_help_documents_the_spec_with_examples(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "convCkK[sS][pP]" in out and "examples of --layers:" in out
    assert "conv32k3,maxpool2,conv64k3,maxpool2,128" in out
