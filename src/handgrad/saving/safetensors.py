"""The safetensors format: tensors and a map of strings, never pickle.

A file is an 8-byte little-endian header length ``N``, ``N`` bytes of JSON describing each
tensor (dtype, shape, byte offsets) and a ``__metadata__`` map of strings, then the raw tensor
bytes. This module writes and reads such files and checks every size against the file before it
trusts it; it knows nothing of layers or training: :mod:`handgrad.saving.model_files` gives the
metadata its meaning. Writing goes through the safetensors package; reading needs NumPy alone.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable

import numpy as np

from .._validation import describe
from ..errors import ModelFileError

#: Largest JSON header accepted: ample for any architecture, small enough to read safely.
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: The tensor dtypes handgrad writes and reads.
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_MAX_RANK = 8


def write(
    path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str]
) -> None:
    """Write ``tensors`` and the string map ``metadata`` to ``path``, atomically: a temporary file
    in the same folder, flushed to disk, then renamed over ``path``, so that a crash leaves the
    previous file as it was. The bytes depend on the contents alone (see :func:`_canonical`)."""
    try:
        from safetensors.numpy import save as to_bytes
    except ImportError as exc:
        raise ImportError(
            "saving models needs the safetensors package: pip install 'handgrad[io]'"
        ) from exc

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path!r}: the folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a folder")
    data = _canonical(
        to_bytes({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=metadata)
    )
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a saved model is a normal file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def _canonical(data: bytes) -> bytes:
    """The same file with its header's keys sorted, so that one model always gives the same bytes
    (the safetensors package writes its metadata map in an order that varies from run to run).
    The header stays padded with spaces to a multiple of 8 bytes; the tensor bytes are unchanged.
    """
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read(
    path: str | os.PathLike, check_metadata: Callable[[dict[str, str], str], None] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and metadata of a safetensors file, after checking every size against the file.

    ``check_metadata(metadata, path)`` runs once the header is read and checked, before the
    tensor bytes are: it raises to refuse the file."""
    try:
        path = os.fspath(path)
    except TypeError as exc:
        raise TypeError(f"path must be a file path, got {describe(path)}") from exc
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(64)
            f.seek(0)
            foreign = looks_like(head, path)
            if foreign is not None:
                raise ModelFileError(
                    f"{path!r} is not a handgrad model file: it looks like {foreign}. A model "
                    "file is the .safetensors file that hg.save or 'handgrad train --out' wrote"
                )
            if size < 8:
                raise ModelFileError(f"{path!r} is not a model file: {size} bytes is too short")
            n = int.from_bytes(f.read(8), "little")
            if n > min(size - 8, MAX_HEADER_BYTES):
                raise ModelFileError(
                    f"{path!r} is truncated or not a model file: its header claims {n} bytes, "
                    f"but the file has {size - 8} after the length field"
                )
            header_bytes = f.read(n)
            header = _parse_header(header_bytes, path)
            tensors_meta, meta = _check_header(header, size - 8 - n, path)
            if check_metadata is not None:
                check_metadata(meta, path)
            data = f.read(size - 8 - n)
    except FileNotFoundError as exc:
        raise ModelFileError(f"no model file at {path!r}") from exc
    except IsADirectoryError as exc:
        raise ModelFileError(f"{path!r} is a folder, not a model file") from exc
    except PermissionError as exc:
        raise ModelFileError(f"cannot read {path!r}: permission denied") from exc
    tensors = {}
    for name, (dtype, shape, begin, _) in tensors_meta.items():
        tensors[name] = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=begin)
        tensors[name] = tensors[name].reshape(shape).astype(dtype.newbyteorder("="), copy=True)
    return tensors, meta


#: The first bytes of files that are often mistaken for a model file, and what they are.
_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an .npz, .keras or .pth file?)"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 model?)"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\x80", "a Python pickle, which handgrad never loads (it can run code)"),
)


def looks_like(head: bytes, path: str) -> str | None:
    """What a file that is not safetensors looks like, from its first bytes; None when it might
    be safetensors. A safetensors file starts with its header's length (little-endian, so its
    last bytes are zeros for any header under 16 MB) and then ``{``."""
    if len(head) >= 9 and head[8:9] == b"{" and head[5:8] == b"\x00\x00\x00":
        return None
    if (
        len(head) >= 2
        and head[0] == 0x08
        and head[1] < 0x80
        and (path.lower().endswith(".onnx") or b"onnx" in head or head[2:3] in (b"\x12", b"\x3a"))
    ):
        return (
            "an ONNX model (protocol buffers), which 'handgrad export' writes but handgrad does "
            "not read; run it with onnxruntime"
        )
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            return what
    text = head.lstrip(b"\xef\xbb\xbf")
    if text and all(32 <= b < 127 or b in b"\t\r\n" for b in text):
        return f"text, starting {text[:40].decode('ascii')!r} (a CSV or JSON file?)"
    return None


def _parse_header(header_bytes: bytes, path: str) -> dict:
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path!r}: the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path!r}: the header must be a JSON object")
    return header


def _check_header(header: dict, data_size: int, path: str):
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise ModelFileError(f"{path!r} is not a handgrad file: it has no string metadata")
    tensors = {}
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(f"{path!r}: tensor {name!r} is not described properly")
        dtype = DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
        if dtype is None:
            raise ModelFileError(
                f"{path!r}: tensor {name!r} has dtype {entry['dtype']!r}; expected one of "
                f"{sorted(DTYPES)}"
            )
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not (
            isinstance(shape, list)
            and len(shape) <= _MAX_RANK
            and all(type(d) is int and d >= 0 for d in shape)
        ):
            raise ModelFileError(f"{path!r}: tensor {name!r} has an invalid shape {shape!r}")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise ModelFileError(
                f"{path!r}: tensor {name!r} has byte range {offsets!r} outside the {data_size} "
                "data bytes (the file may be truncated)"
            )
        if offsets[1] - offsets[0] != math.prod(shape) * dtype.itemsize:
            raise ModelFileError(
                f"{path!r}: tensor {name!r} of shape {shape} needs "
                f"{math.prod(shape) * dtype.itemsize} bytes, its range holds "
                f"{offsets[1] - offsets[0]}"
            )
        tensors[name] = (dtype, tuple(shape), offsets[0], offsets[1])
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    for (_, end, a), (begin, _, b) in itertools.pairwise(spans):
        if begin < end:
            raise ModelFileError(f"{path!r}: tensors {a!r} and {b!r} overlap")
    return tensors, meta
