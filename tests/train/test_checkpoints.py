"""Checkpoints and resume."""

import numpy as np
import pytest
from helpers.saving import cnn, network

import handgrad as hg
from handgrad.train import checkpoints as hgio


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


def train_cnn(X, y, epochs, path, resume=None):
    model = cnn(seed=3)
    opt = hg.Adam(model.parameters(), lr=0.01)
    history = model.fit(
        X, y, loss=hg.CrossEntropyLoss(), optimizer=opt, epochs=epochs, batch_size=16, seed=4,
        validation_split=0.25, callbacks=[hg.Checkpoint(path)], resume_from=resume,
    )  # fmt: skip
    return model, history


def test_a_cnn_with_batch_norm_resumes_bit_identically(tmp_path, rng):
    X, y = rng.standard_normal((80, 64)), rng.integers(0, 3, 80)
    full, full_history = train_cnn(X, y, 4, tmp_path / "a.ckpt")
    train_cnn(X, y, 2, tmp_path / "b.ckpt")
    resumed, history = train_cnn(X, y, 4, tmp_path / "c.ckpt", resume=tmp_path / "b.ckpt")
    for p, q in zip(full.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    for (_, a), (_, b) in zip(full.named_state(), resumed.named_state(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)  # the running statistics too
    assert history["val_loss"] == full_history["val_loss"]
