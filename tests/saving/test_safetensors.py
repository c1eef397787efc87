"""The file format: atomic, reproducible writes, and damaged files refused."""

import os

import pytest
from helpers.saving import network

import handgrad as hg
from handgrad.errors import ModelFileError
from handgrad.saving import safetensors


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
        (
            lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)),
            "not a handgrad model file: it looks like a PNG image",
        ),
        (lambda p: p.write_bytes(b""), "too short"),
    ],
)
def test_damaged_files_raise_model_file_error(damage, message, tmp_path):
    path = tmp_path / "m.safetensors"
    network().save(path)
    damage(path)
    with pytest.raises(hg.ModelFileError, match=message):
        hg.load(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(hg.ModelFileError, match="no model file at"):
        hg.load(tmp_path / "nope.safetensors")
    with pytest.raises(hg.ModelFileError, match="is a folder"):
        hg.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        network().save(tmp_path / "no" / "m.safetensors")


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


@pytest.mark.parametrize(
    ("head", "name", "looks"),
    [
        (b"\x08\x07\x12\x08handgrad\x1a\x050.1.0", "m.onnx", "an ONNX model (protocol buffers)"),
        (b"PK\x03\x04\x14\x00\x00\x00\x00\x00", "data.npz", "a zip archive"),
        (b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00", "model.pkl", "a Python pickle"),
        (b"\x93NUMPY\x01\x00v\x00{'descr'", "x.npy", "a NumPy .npy array"),
        (b"height,weight,species\n1,2,cat\n", "m.safetensors", "text, starting 'height,weight"),
    ],
)
def test_a_foreign_file_is_named_for_what_it_looks_like(head, name, looks, tmp_path):
    path = tmp_path / name
    path.write_bytes(head * 4)
    with pytest.raises(ModelFileError) as info:
        safetensors.read(path)
    assert str(info.value).startswith(
        f"{str(path)!r} is not a handgrad model file: it looks like {looks}"
    )
