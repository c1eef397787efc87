"""Model files and checkpoints, in the safetensors format: tensors plus JSON, never pickle.

A file is an 8-byte little-endian header length ``N``, ``N`` bytes of JSON describing each
tensor (dtype, shape, byte offsets) and a ``__metadata__`` map of strings, then the raw tensor
bytes. handgrad puts in the metadata:

================  ===========================================================================
``format``        ``handgrad.model`` or ``handgrad.checkpoint``
``format_version`` ``1``
``handgrad_version`` the version that wrote the file
``dtype``         ``float32`` or ``float64``
``architecture``  JSON: ``{"type": "Sequential", "config": {"layers": [{"type": …, "config": …}]}}``
``metadata``      JSON: the user's own metadata (e.g. class names)
``training``      (checkpoints) JSON: epoch, optimizer hyper-parameters and step count, random
                  states, history and callback state
================  ===========================================================================

Tensors are named as ``model.named_parameters()`` names them (``0.weight``); checkpoints add
``optimizer.<group>.<state>`` and ``callback.<i>.<key>.<j>``.

Loading checks everything before it builds anything — the header length against the file size,
the JSON, every tensor's dtype, shape and byte range, the metadata fields, the layer types (only
known classes are ever constructed) and their configurations, and that the tensors are exactly the
parameters the architecture has — and reports any problem as :class:`ModelFileError`. Writing goes
to a temporary file in the same folder that is flushed to disk and then renamed over the target,
so a crash during a save leaves the previous file as it was.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import describe
from .activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .errors import ModelFileError
from .layers import Dense, Dropout, Layer
from .model import Sequential

if TYPE_CHECKING:
    from .training import TrainingRun

FORMAT_VERSION = "1"
MODEL_FORMAT = "handgrad.model"
CHECKPOINT_FORMAT = "handgrad.checkpoint"
#: Largest JSON header accepted: ample for any architecture, small enough to read safely.
MAX_HEADER_BYTES = 16 * 1024 * 1024
_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_MAX_RANK = 8

_LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Sequential, Dense, Dropout, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Identity, GELU)
}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Allow a user-defined layer class in saved files.

    The class must rebuild itself from ``cls.from_config(layer.get_config())``; its parameters are
    saved like any other. Loading constructs only registered classes, so a file can name a class
    but never supply one. Usable as a decorator.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer needs a Layer subclass, got {describe(cls)}")
    known = _LAYERS.get(cls.__name__)
    if known is not None and known is not cls:
        raise ValueError(f"another layer class named {cls.__name__!r} is already registered")
    _LAYERS[cls.__name__] = cls
    return cls


# Writing -----------------------------------------------------------------------------------------


def save(model: Sequential, path: str | os.PathLike, *, metadata: Mapping | None = None) -> None:
    """Write ``model`` (architecture and weights) to ``path`` in the safetensors format.

    ``metadata``: any JSON-serialisable mapping kept with the model (``hg.load(path).metadata``);
    by default the model's own ``model.metadata``. The write is atomic: ``path`` holds either the
    old file or the complete new one.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a Sequential, got {describe(model)}")
    if metadata is None:
        metadata = getattr(model, "metadata", None)
    tensors = {name: p.data for name, p in model.named_parameters()}
    header = _model_header(model, MODEL_FORMAT, metadata)
    _write(path, tensors, header)


def save_checkpoint(path: str | os.PathLike, run: TrainingRun) -> None:
    """Write everything ``fit(..., resume_from=path)`` needs to continue ``run`` exactly."""
    from .callbacks import ProgressBar

    model, optimizer = run.model, run.optimizer
    tensors = {name: p.data for name, p in model.named_parameters()}
    opt_state = optimizer.state_dict()
    groups = []
    for g, arrays in enumerate(opt_state["state"]):
        groups.append(sorted(arrays))
        for key, value in arrays.items():
            tensors[f"optimizer.{g}.{key}"] = value
    callbacks = []
    for i, cb in enumerate(c for c in run.callbacks if not isinstance(c, ProgressBar)):
        state = {}
        for key, value in cb.state_dict().items():
            arrays = _as_array_list(value)
            if arrays is None:
                state[key] = value
            else:
                for j, a in enumerate(arrays):
                    tensors[f"callback.{i}.{key}.{j}"] = a
                state[key] = {"__arrays__": len(arrays)}
        callbacks.append({"type": type(cb).__name__, "state": state})
    training = {
        "epoch": run.epoch + 1,
        "epochs": run.epochs,
        "batch_size": run.batch_size,
        "n_samples": run.n_samples,
        "optimizer": {
            "type": opt_state["type"],
            "hyperparameters": opt_state["hyperparameters"],
            "t": opt_state["t"],
            "groups": groups,
        },
        "rng": run.rng.bit_generator.state,
        "layer_rngs": {path_: g.bit_generator.state for path_, g in _layer_generators(model)},
        "callbacks": callbacks,
    }
    header = _model_header(model, CHECKPOINT_FORMAT, None)
    header["training"] = json.dumps(training)
    _write(path, tensors, header)


def _as_array_list(value) -> list[np.ndarray] | None:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        return list(value)
    return None


def _model_header(model: Sequential, fmt: str, metadata: Mapping | None) -> dict[str, str]:
    from . import __version__

    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping (dict), got {describe(metadata)}")
    try:
        user = json.dumps(dict(metadata or {}), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON-serialisable: {exc}") from exc
    return {
        "format": fmt,
        "format_version": FORMAT_VERSION,
        "handgrad_version": __version__,
        "dtype": str(model.dtype),
        "architecture": json.dumps(architecture(model)),
        "metadata": user,
    }


def architecture(layer: Layer) -> dict[str, Any]:
    """``{"type": class name, "config": …}``; a Sequential's config lists its layers'."""
    name = type(layer).__name__
    if _LAYERS.get(name) is not type(layer):
        raise ValueError(
            f"layer {layer!r} of type {name} cannot be saved: only handgrad's layers and classes "
            "registered with hg.register_layer are"
        )
    if isinstance(layer, Sequential):
        return {"type": name, "config": {"layers": [architecture(sub) for sub in layer]}}
    return {"type": name, "config": layer.get_config()}


def _write(path: str | os.PathLike, tensors: dict[str, np.ndarray], header: dict[str, str]):
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
        to_bytes({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=header)
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


# Reading -----------------------------------------------------------------------------------------


def load(path: str | os.PathLike) -> Sequential:
    """Read a model written by :func:`save`; ``model.metadata`` holds the saved metadata.

    Raises :class:`ModelFileError` for anything that is not a complete, consistent handgrad model
    file. A checkpoint file loads too (its model part).
    """
    tensors, meta = _read(path)
    extra = ("optimizer.", "callback.") if meta["format"] == CHECKPOINT_FORMAT else ()
    return _build_model(tensors, meta, os.fspath(path), extra_prefixes=extra)


def read_checkpoint(path: str | os.PathLike) -> tuple[Sequential, dict[str, np.ndarray], dict]:
    """``(model, tensors, training state)`` from a checkpoint file."""
    tensors, meta = _read(path)
    if meta["format"] != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{os.fspath(path)!r} is a model file, not a training checkpoint")
    training = _json(meta, "training", os.fspath(path))
    if not isinstance(training, dict):
        raise ModelFileError(f"{os.fspath(path)!r}: training state must be a JSON object")
    model = _build_model(tensors, meta, os.fspath(path), extra_prefixes=("optimizer.", "callback."))
    return model, tensors, training


def restore_checkpoint(path: str | os.PathLike, run: TrainingRun) -> int:
    """Put a checkpoint's state into ``run`` (model, optimizer, random state, history, callbacks)
    and return the epoch to continue from."""
    from .callbacks import ProgressBar

    path = os.fspath(path)
    saved, tensors, training = read_checkpoint(path)
    if architecture(saved) != architecture(run.model):
        raise ValueError(
            f"checkpoint {path!r} was written for a different network: "
            f"{' → '.join(repr(layer) for _, layer in saved.leaves())}"
        )
    try:
        for (_, p), (_, q) in zip(run.model.named_parameters(), saved.named_parameters()):
            p.data[...] = q.data
        opt = training["optimizer"]
        state = [
            {key: tensors[f"optimizer.{g}.{key}"] for key in keys}
            for g, keys in enumerate(opt["groups"])
        ]
        run.optimizer.load_state_dict(
            {"type": opt["type"], "hyperparameters": opt["hyperparameters"], "t": opt["t"],
             "state": state}
        )  # fmt: skip
        _set_generator(run.rng, training["rng"], "the shuffling generator")
        layer_states = training["layer_rngs"]
        generators = dict(_layer_generators(run.model))
        if set(layer_states) != set(generators):
            raise ValueError(
                f"the checkpoint has random generators for layers {sorted(layer_states)}, "
                f"this network for {sorted(generators)}"
            )
        for name, g in generators.items():
            _set_generator(g, layer_states[name], f"layer {name}'s generator")
        callbacks = [c for c in run.callbacks if not isinstance(c, ProgressBar)]
        kinds = [type(c).__name__ for c in callbacks]
        saved_kinds = [c["type"] for c in training["callbacks"]]
        if kinds != saved_kinds:
            raise ValueError(
                f"checkpoint {path!r} was written with callbacks {saved_kinds}, "
                f"this fit has {kinds}; resume with the same callbacks"
            )
        for i, (cb, entry) in enumerate(zip(callbacks, training["callbacks"])):
            state = {}
            for key, value in entry["state"].items():
                if isinstance(value, dict) and set(value) == {"__arrays__"}:
                    value = [tensors[f"callback.{i}.{key}.{j}"] for j in range(value["__arrays__"])]
                state[key] = value
            cb.load_state_dict(state)
        epoch = int(training["epoch"])
    except (KeyError, TypeError, IndexError) as exc:
        raise ModelFileError(f"{path!r}: incomplete training state ({exc!r})") from exc
    if training.get("batch_size") != run.batch_size or training.get("n_samples") != run.n_samples:
        raise ValueError(
            f"checkpoint {path!r} was written for batch_size={training.get('batch_size')} and "
            f"{training.get('n_samples')} training samples; this fit has batch_size="
            f"{run.batch_size} and {run.n_samples}"
        )
    return epoch


def _set_generator(generator: np.random.Generator, state: Any, what: str) -> None:
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"the checkpoint's state of {what} is not valid: {exc}") from exc


def _layer_generators(model: Sequential):
    """``(path, Generator)`` for each layer that draws random numbers (e.g. Dropout)."""
    for path, layer in model.leaves():
        for name, value in vars(layer).items():
            if isinstance(value, np.random.Generator):
                yield f"{path}.{name}", value


def _read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and metadata of a safetensors file, after checking every size against the file."""
    try:
        path = os.fspath(path)
    except TypeError as exc:
        raise TypeError(f"path must be a file path, got {describe(path)}") from exc
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
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
    if meta.get("format") not in (MODEL_FORMAT, CHECKPOINT_FORMAT):
        raise ModelFileError(
            f"{path!r} is not a handgrad file: format {meta.get('format')!r}, expected "
            f"{MODEL_FORMAT!r}"
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has format version {meta.get('format_version')!r}; this handgrad reads "
            f"version {FORMAT_VERSION}"
        )
    if meta.get("dtype") not in ("float32", "float64"):
        raise ModelFileError(
            f"{path!r}: dtype must be float32 or float64, got {meta.get('dtype')!r}"
        )
    tensors = {}
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(f"{path!r}: tensor {name!r} is not described properly")
        dtype = _DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
        if dtype is None:
            raise ModelFileError(
                f"{path!r}: tensor {name!r} has dtype {entry['dtype']!r}; expected one of "
                f"{sorted(_DTYPES)}"
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


def _json(meta: dict[str, str], key: str, path: str):
    if key not in meta:
        raise ModelFileError(f"{path!r}: the metadata has no {key!r}")
    try:
        return json.loads(meta[key])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path!r}: metadata {key!r} is not valid JSON ({exc})") from None


def _build_model(tensors, meta, path: str, extra_prefixes: tuple[str, ...] = ()) -> Sequential:
    arch = _json(meta, "architecture", path)
    user = _json(meta, "metadata", path)
    if not isinstance(user, dict):
        raise ModelFileError(f"{path!r}: metadata 'metadata' must be a JSON object")
    # Layers are only built for the parameters the file really holds: a Dense claiming more
    # weights than the file's tensors contain is refused before anything is allocated.
    budget = [sum(t.size for t in tensors.values())]
    model = _build_layer(arch, path, depth=0, budget=budget)
    if not isinstance(model, Sequential):
        raise ModelFileError(f"{path!r}: the architecture must be a Sequential")
    expected = dict(model.named_parameters())
    names = (
        {k for k in tensors if not k.startswith(extra_prefixes)} if extra_prefixes else set(tensors)
    )
    if names != set(expected):
        missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
        raise ModelFileError(
            f"{path!r}: the tensors do not match the architecture (missing {missing}, "
            f"unexpected {extra})"
        )
    dtype = np.dtype(meta["dtype"])
    for name, p in expected.items():
        t = tensors[name]
        if t.shape != p.data.shape or t.dtype != dtype or p.data.dtype != dtype:
            raise ModelFileError(
                f"{path!r}: tensor {name!r} is {t.dtype}{list(t.shape)}, the architecture needs "
                f"{p.data.dtype}{list(p.data.shape)} in the file's dtype {dtype}"
            )
        p.data[...] = t
    model.metadata = user
    return model


def _build_layer(spec: Any, path: str, depth: int, budget: list[int]) -> Layer:
    if depth > 32:
        raise ModelFileError(f"{path!r}: the architecture nests more than 32 levels")
    if not isinstance(spec, dict) or set(spec) != {"type", "config"}:
        raise ModelFileError(
            f"{path!r}: a layer must be {{'type': …, 'config': …}}, got {spec!r:.80}"
        )
    kind, config = spec["type"], spec["config"]
    cls = _LAYERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ModelFileError(
            f"{path!r}: unknown layer type {kind!r:.80}; known types are {sorted(_LAYERS)} (a "
            "user-defined layer must be registered with hg.register_layer before loading)"
        )
    if not isinstance(config, dict):
        raise ModelFileError(f"{path!r}: the config of a {kind} must be a JSON object")
    try:
        if cls is Sequential:
            layers = config.get("layers")
            if not isinstance(layers, list) or set(config) != {"layers"}:
                raise ModelFileError(f"{path!r}: a Sequential's config must be {{'layers': [...]}}")
            return Sequential([_build_layer(sub, path, depth + 1, budget) for sub in layers])
        if cls is Dense:
            n_in, n_out = config.get("n_in"), config.get("n_out")
            if not (type(n_in) is int and type(n_out) is int and n_in > 0 and n_out > 0):
                raise ModelFileError(f"{path!r}: a Dense needs positive integer n_in and n_out")
            budget[0] -= (n_in + 1) * n_out
            if budget[0] < 0:
                raise ModelFileError(
                    f"{path!r}: Dense({n_in}→{n_out}) needs more weights than the file holds"
                )
        return cls.from_config(config)
    except ModelFileError:
        raise
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        raise ModelFileError(f"{path!r}: invalid configuration for {kind}: {exc}") from None
