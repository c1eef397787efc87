"""The file format: atomic, reproducible writes, and damaged files refused."""

import os

import pytest
from helpers.saving import network

import handgrad as hg


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
