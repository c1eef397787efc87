import json
import os

import numpy as np
import pytest

import handgrad as hg
from handgrad.saving import model_files
from handgrad.train import checkpoints as hgio


def network(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    inner = hg.Sequential([hg.Dense(6, 5, rng=rng, dtype=dtype), hg.GELU("tanh")])
    return hg.Sequential(
        [
            hg.Dense(4, 6, rng=rng, dtype=dtype),
            hg.LeakyReLU(0.2),
            hg.Dropout(0.3, rng=1),
            inner,
            hg.Sigmoid(),
            hg.Dense(5, 3, rng=rng, dtype=dtype),
            hg.Softmax(),
        ]
    )


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


def test_a_save_replaces_the_file_atomically(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    network(seed=0).save(path)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        network(seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left


def corrupt(path, offset, value):
    data = bytearray(path.read_bytes())
    data[offset] = value
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:5]), "too short"),
        (lambda p: p.write_bytes(p.read_bytes()[:200]), "truncated or not a model file"),
        (lambda p: p.write_bytes(p.read_bytes()[:-4]), "outside the .* data bytes"),
        (
            lambda p: p.write_bytes((2**60).to_bytes(8, "little") + p.read_bytes()[8:]),
            "header claims 1152921504606846976 bytes",
        ),
        (lambda p: corrupt(p, 8, ord("x")), "the header is not valid JSON"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)), "not a model file"),
        (lambda p: p.write_bytes(b""), "too short"),
    ],
)
def test_damaged_files_raise_model_file_error(damage, message, tmp_path):
    path = tmp_path / "m.safetensors"
    network().save(path)
    damage(path)
    with pytest.raises(hg.ModelFileError, match=message):
        hg.load(path)


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


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(hg.ModelFileError, match="no model file at"):
        hg.load(tmp_path / "nope.safetensors")
    with pytest.raises(hg.ModelFileError, match="is a folder"):
        hg.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        network().save(tmp_path / "no" / "m.safetensors")


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


# Checkpoints and resume ------------------------------------------------------------------------


def data(rng):
    X = rng.standard_normal((150, 4))
    return X, (X[:, :2].sum(axis=1) > 0).astype(int) + (X[:, 2] > 0.8)


def train(X, y, epochs, path, resume=None, extra=()):
    model = network(seed=5)
    opt = hg.Adam(model.parameters(), lr=0.01)
    callbacks = [hg.Checkpoint(path), hg.CosineLR(8), hg.EarlyStopping(patience=50), *extra]
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=opt,
        epochs=epochs,
        batch_size=16,
        seed=9,
        validation_split=0.2,
        callbacks=callbacks,
        resume_from=resume,
    )
    return model, opt, history


def test_resume_equals_an_uninterrupted_run(tmp_path, rng):
    X, y = data(rng)
    full, full_opt, full_history = train(X, y, 8, tmp_path / "a.ckpt")
    train(X, y, 3, tmp_path / "b.ckpt")  # interrupted after 3 epochs
    resumed, opt, history = train(X, y, 8, tmp_path / "c.ckpt", resume=tmp_path / "b.ckpt")
    for p, q in zip(full.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert opt.t == full_opt.t
    assert history["loss"] == full_history["loss"] and history["lr"] == full_history["lr"]
    assert history.epochs == list(range(8))


def test_a_checkpoint_loads_as_a_model(tmp_path, rng):
    X, y = data(rng)
    model, _, _ = train(X, y, 2, tmp_path / "a.ckpt")
    loaded = hg.load(tmp_path / "a.ckpt")
    model.eval()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_resume_with_other_settings_is_refused(tmp_path, rng):
    X, y = data(rng)
    train(X, y, 2, tmp_path / "a.ckpt")
    other = hg.Sequential([hg.Dense(4, 3, rng=0)])
    with pytest.raises(ValueError, match="written for a different network"):
        other.fit(
            X,
            y,
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.Adam(other.parameters()),
            validation_split=0.2,
            resume_from=tmp_path / "a.ckpt",
        )
    with pytest.raises(ValueError, match=r"written with callbacks \['History', 'Checkpoint'"):
        model = network(seed=5)
        model.fit(
            X,
            y,
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.Adam(model.parameters()),
            batch_size=16,
            seed=9,
            validation_split=0.2,
            resume_from=tmp_path / "a.ckpt",
        )
    with pytest.raises(hg.ModelFileError, match="is a model file, not a training checkpoint"):
        network().save(tmp_path / "m.safetensors")
        hgio.read_checkpoint(tmp_path / "m.safetensors")


def test_checkpoint_every_and_best_only(tmp_path, rng):
    X, y = data(rng)
    writes = []
    original = hgio.save_checkpoint

    def spy(path, run):
        writes.append(run.epoch)
        original(path, run)

    hgio.save_checkpoint = spy
    try:
        model = network()
        model.fit(
            X,
            y,
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.SGD(model.parameters(), lr=0.1),
            epochs=6,
            callbacks=[hg.Checkpoint(tmp_path / "c", every=2)],
        )
        assert writes == [1, 3, 5]
    finally:
        hgio.save_checkpoint = original


def test_the_models_own_metadata_is_saved_by_default(tmp_path):
    model = network()
    model.metadata = {"classes": ["a", "b", "c"]}
    model.save(tmp_path / "m.safetensors")
    assert hg.load(tmp_path / "m.safetensors").metadata == {"classes": ["a", "b", "c"]}
    model.save(tmp_path / "n.safetensors", metadata={"other": 1})
    assert hg.load(tmp_path / "n.safetensors").metadata == {"other": 1}


def test_the_same_model_gives_the_same_bytes_and_a_normal_file_mode(tmp_path):
    model = network()
    model.save(tmp_path / "a.safetensors", metadata={"z": 1, "a": [1, 2]})
    model.save(tmp_path / "b.safetensors", metadata={"z": 1, "a": [1, 2]})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    mask = os.umask(0o022)
    try:
        model.save(tmp_path / "c.safetensors")
    finally:
        os.umask(mask)
    assert (tmp_path / "c.safetensors").stat().st_mode & 0o777 == 0o644
