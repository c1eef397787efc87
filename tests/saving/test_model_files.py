"""Model files: architecture, weights and metadata round trips, and foreign files refused."""

import json

import numpy as np
import pytest
from helpers.saving import cnn, network

import handgrad as hg
from handgrad.nn.layer import activations
from handgrad.saving import model_files


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact(dtype, tmp_path, rng):
    model = network(dtype)
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.data.shape)
    path = tmp_path / "m.safetensors"
    model.save(path, metadata={"classes": ["cat", "dog", "eel"], "note": "ü"})
    loaded = hg.load(path)
    assert model_files.architecture(loaded) == model_files.architecture(model)
    for (n1, p1), (n2, p2) in zip(model.named_parameters(), loaded.named_parameters()):
        assert n1 == n2 and p2.data.dtype == dtype
        np.testing.assert_array_equal(p1.data, p2.data)
    assert loaded.metadata == {"classes": ["cat", "dog", "eel"], "note": "ü"}
    X = rng.standard_normal((7, 4))
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))


@pytest.mark.parametrize("name", sorted(activations()))
def test_every_activation_saves_and_loads_as_itself(name, tmp_path, rng):
    act = activations()[name]()
    model = hg.Sequential([hg.Dense(3, 4, rng=rng), act, hg.Dense(4, 2, rng=rng)])
    model.save(tmp_path / "m.safetensors")
    loaded = hg.load(tmp_path / "m.safetensors")
    assert type(loaded[1]) is type(act) and loaded[1].get_config() == act.get_config()
    X = rng.standard_normal((5, 3)) * 2
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_the_file_is_safetensors_with_handgrad_metadata(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    path = tmp_path / "m.safetensors"
    network().save(path)
    assert set(load_file(path)) == {
        "0.weight",
        "0.bias",
        "3.0.weight",
        "3.0.bias",
        "5.weight",
        "5.bias",
    }
    with safe_open(path, "np") as f:
        meta = f.metadata()
    assert meta["format"] == "handgrad.model" and meta["dtype"] == "float64"
    arch = json.loads(meta["architecture"])
    assert [layer["type"] for layer in arch["config"]["layers"]] == [
        "Dense",
        "LeakyReLU",
        "Dropout",
        "Sequential",
        "Sigmoid",
        "Dense",
        "Softmax",
    ]


def rewrite(path, edit):
    """Re-write a saved file after editing its parsed header (a well-formed but wrong file)."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    edit(header)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n :])


def set_arch(header, fn):
    arch = json.loads(header["__metadata__"]["architecture"])
    fn(arch)
    header["__metadata__"]["architecture"] = json.dumps(arch)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: h["__metadata__"].update(format="pytorch"), "not a handgrad file: format"),
        (lambda h: h["__metadata__"].update(format_version="9"), "format version '9'"),
        (lambda h: h["__metadata__"].pop("architecture"), "has no 'architecture'"),
        (
            lambda h: set_arch(h, lambda a: a["config"]["layers"][1].update(type="Evil")),
            "unknown layer type 'Evil'",
        ),
        (
            lambda h: set_arch(h, lambda a: a["config"]["layers"][0]["config"].update(n_in=10**9)),
            r"Dense\(1000000000→6\) needs more weights than the file holds",
        ),
        (
            lambda h: set_arch(h, lambda a: a["config"]["layers"][2]["config"].update(p=7)),
            "invalid configuration for Dropout",
        ),
        (lambda h: h["0.weight"].update(dtype="I8"), "dtype 'I8'"),
        (lambda h: h["0.weight"].update(shape=[4, 7]), "needs 224 bytes, its range holds 192"),
        (lambda h: h["5.bias"].update(data_offsets=[0, 24]), "overlap"),
        (
            lambda h: h.update(extra={"dtype": "F64", "shape": [0], "data_offsets": [0, 0]}),
            r"unexpected \['extra'\]",
        ),
        (lambda h: h["__metadata__"].update(dtype="float16"), "dtype must be float32 or float64"),
    ],
)
def test_foreign_or_inconsistent_files_are_refused(edit, message, tmp_path):
    path = tmp_path / "m.safetensors"
    network().save(path)
    rewrite(path, edit)
    with pytest.raises(hg.ModelFileError, match=message):
        hg.load(path)


def test_user_layers_need_registration(tmp_path):
    class Doubler(hg.Layer):
        def forward(self, x):
            return 2 * x

        def backward(self, g):
            return 2 * g

    model = hg.Sequential([hg.Dense(2, 2, rng=0), Doubler()])
    with pytest.raises(ValueError, match="type Doubler cannot be saved"):
        model.save(tmp_path / "m.safetensors")
    hg.register_layer(Doubler)
    model.save(tmp_path / "m.safetensors")
    loaded = hg.load(tmp_path / "m.safetensors")
    assert isinstance(loaded[1], Doubler)
    np.testing.assert_array_equal(loaded(np.ones((1, 2))), model(np.ones((1, 2))))


def test_metadata_must_be_json(tmp_path):
    with pytest.raises(ValueError, match="metadata must be JSON-serialisable"):
        network().save(tmp_path / "m.safetensors", metadata={"f": object()})
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        network().save(tmp_path / "m.safetensors", metadata=[1])


def test_the_models_own_metadata_is_saved_by_default(tmp_path):
    model = network()
    model.metadata = {"classes": ["a", "b", "c"]}
    model.save(tmp_path / "m.safetensors")
    assert hg.load(tmp_path / "m.safetensors").metadata == {"classes": ["a", "b", "c"]}
    model.save(tmp_path / "n.safetensors", metadata={"other": 1})
    assert hg.load(tmp_path / "n.safetensors").metadata == {"other": 1}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_cnn_round_trips_bit_exact_with_its_running_statistics(dtype, tmp_path, rng):
    model = cnn(dtype)
    X = rng.standard_normal((16, 64)).astype(dtype)
    model.fit(
        X, rng.integers(0, 3, 16), loss=hg.CrossEntropyLoss(),
        optimizer=hg.Adam(model.parameters(), lr=0.01), epochs=2, batch_size=8, seed=0,
    )  # fmt: skip
    assert not np.array_equal(model[2].running_mean.data, 0)
    model.save(tmp_path / "cnn.safetensors")
    loaded = hg.load(tmp_path / "cnn.safetensors")
    assert model_files.architecture(loaded) == model_files.architecture(model)
    for (n, a), (m, b) in zip(model.named_state(), loaded.named_state(), strict=True):
        assert n == m and b.data.dtype == dtype
        np.testing.assert_array_equal(a.data, b.data)
    for p, q in zip(model.parameters(), loaded.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_file_without_the_running_statistics_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    cnn().save(path)
    rewrite(path, lambda h: h.update({"2.running_variance": h.pop("2.running_var")}))
    with pytest.raises(
        hg.ModelFileError, match=r"missing \['2.running_var'\], unexpected \['2.running_variance'\]"
    ):
        hg.load(path)


def test_a_convolution_claiming_more_weights_than_the_file_holds_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    cnn().save(path)
    rewrite(
        path,
        lambda h: set_arch(
            h, lambda a: a["config"]["layers"][1]["config"].update(out_channels=10**6)
        ),
    )
    with pytest.raises(hg.ModelFileError, match=r"Conv2D\(1→1000000, 3×3, padding 1\) needs more"):
        hg.load(path)
