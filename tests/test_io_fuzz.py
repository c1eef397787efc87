"""Hostile model files: mutations of valid files must load or raise ModelFileError, nothing else,
and never allocate more than a small multiple of the file's real size."""

import json
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability import record

import handgrad as hg


def valid_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    model = hg.Sequential(
        [hg.Dense(5, 7, rng=rng), hg.ReLU(), hg.Dropout(0.2, rng=0),
         hg.Sequential([hg.Dense(7, 4, rng=rng), hg.Tanh()]), hg.Dense(4, 3, rng=rng)]
    )  # fmt: skip
    path = tmp_path_factory.mktemp("valid") / "model.safetensors"
    model.save(path, metadata={"classes": ["a", "b", "c"]})
    return path.read_bytes()


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    return valid_file(tmp_path_factory)


def split(raw: bytes):
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def join(header, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def load_bytes(tmp_path, raw: bytes, kind: str):
    """Load ``raw``; return what happened. Any exception but ModelFileError fails the test."""
    path = tmp_path / "fuzzed.safetensors"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        hg.load(path)
        outcome = "loaded"
    except hg.ModelFileError:
        outcome = "refused"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # Reading may hold the file and a copy of its tensors, plus small Python objects.
    assert peak <= 4 * len(raw) + 2_000_000, f"{kind}: peak {peak} bytes for a {len(raw)}-byte file"
    record("fuzzed model files", 1)
    return outcome


FUZZ = settings(max_examples=150, deadline=None)


@FUZZ
@given(data=st.data())
def test_truncated_files(original, tmp_path_factory, data):
    cut = data.draw(st.integers(0, len(original) - 1))
    assert load_bytes(tmp_path_factory.mktemp("t"), original[:cut], "truncation") == "refused"


@FUZZ
@given(positions=st.lists(st.integers(0, 10**9), min_size=1, max_size=8), bits=st.data())
def test_bit_flips(original, tmp_path_factory, positions, bits):
    raw = bytearray(original)
    for pos in positions:
        raw[pos % len(raw)] ^= 1 << bits.draw(st.integers(0, 7))
    load_bytes(tmp_path_factory.mktemp("b"), bytes(raw), "bit flips")


@FUZZ
@given(length=st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([2**60, 2**63, 2**64 - 1])))
def test_header_length_field(original, tmp_path_factory, length):
    raw = length.to_bytes(8, "little") + original[8:]
    n = int.from_bytes(original[:8], "little")
    outcome = load_bytes(tmp_path_factory.mktemp("h"), raw, "header length")
    assert outcome == ("loaded" if length == n else "refused")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=20,
)


@FUZZ
@given(
    tensor=st.sampled_from(["0.weight", "0.bias", "3.0.weight", "4.bias"]),
    field=st.sampled_from(["dtype", "shape", "data_offsets"]),
    value=st.one_of(
        json_values,
        st.sampled_from(["F16", "BF16", "I64", "U8", "BOOL", "F64", "F32"]),
        st.lists(st.integers(-5, 2**62), max_size=9),
    ),
)
def test_tensor_descriptions(original, tmp_path_factory, tensor, field, value):
    header, data = split(original)
    header[tensor][field] = value
    load_bytes(tmp_path_factory.mktemp("d"), join(header, data), f"{tensor}.{field}")


@FUZZ
@given(
    key=st.sampled_from(["format", "format_version", "dtype", "architecture", "metadata"]),
    value=st.one_of(st.text(max_size=50), json_values.map(json.dumps)),
)
def test_metadata_fields(original, tmp_path_factory, key, value):
    header, data = split(original)
    header["__metadata__"][key] = value
    load_bytes(tmp_path_factory.mktemp("m"), join(header, data), f"metadata {key}")


def architecture_mutations():
    layer_types = st.sampled_from(
        ["Dense", "ReLU", "Dropout", "Sequential", "GELU", "LeakyReLU", "Softmax", "Evil", "",
         "__import__", "os.system"]
    )  # fmt: skip
    config = st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"n_in": st.integers(-3, 2**40), "n_out": st.integers(-3, 2**40),
             "dtype": st.sampled_from(["float32", "float64", "int8", "object"])}
        ),
        st.fixed_dictionaries({"p": st.one_of(st.floats(), st.text(max_size=3))}),
        st.fixed_dictionaries({"approximate": st.text(max_size=5)}),
    )  # fmt: skip
    return st.tuples(st.integers(0, 4), layer_types, config)


@FUZZ
@given(mutation=architecture_mutations())
def test_architectures(original, tmp_path_factory, mutation):
    index, kind, config = mutation
    header, data = split(original)
    arch = json.loads(header["__metadata__"]["architecture"])
    arch["config"]["layers"][index] = {"type": kind, "config": config}
    header["__metadata__"]["architecture"] = json.dumps(arch)
    load_bytes(tmp_path_factory.mktemp("a"), join(header, data), "architecture")


@pytest.mark.parametrize("depth", [100, 5_000, 200_000])
def test_deeply_nested_json(original, tmp_path, depth):
    header, data = split(original)
    header["__metadata__"]["architecture"] = "[" * depth + "]" * depth
    assert load_bytes(tmp_path, join(header, data), "nested JSON") == "refused"
    header, data = split(original)
    nested = {"type": "Sequential", "config": {"layers": []}}
    for _ in range(min(depth, 200)):
        nested = {"type": "Sequential", "config": {"layers": [nested]}}
    header["__metadata__"]["architecture"] = json.dumps(nested)
    assert load_bytes(tmp_path, join(header, data), "nested layers") == "refused"


def test_huge_metadata_within_the_header_limit_is_read_and_refused_beyond(original, tmp_path):
    header, data = split(original)
    header["__metadata__"]["metadata"] = json.dumps({"notes": "x" * 5_000_000})
    assert load_bytes(tmp_path, join(header, data), "5 MB metadata") == "loaded"
    header["__metadata__"]["metadata"] = json.dumps({"notes": "x" * 17_000_000})
    assert load_bytes(tmp_path, join(header, data), "17 MB metadata") == "refused"


def test_a_shape_claiming_terabytes_allocates_nothing(original, tmp_path):
    header, data = split(original)
    header["0.weight"]["shape"] = [2**20, 2**20]
    header["0.weight"]["data_offsets"] = [0, 2**43]
    assert load_bytes(tmp_path, join(header, data), "terabyte tensor") == "refused"
