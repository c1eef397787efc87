"""Model files: a network's architecture and weights in one safetensors file.

handgrad puts in the safetensors metadata:

==================== ===========================================================================
``format``           ``handgrad.model``, or ``handgrad.checkpoint`` for a training checkpoint
``format_version``   ``1``
``handgrad_version`` the version that wrote the file
``dtype``            ``float32`` or ``float64``
``architecture``     JSON: ``{"type": "Sequential", "config": {"layers": [{"type": …, …}]}}``
``metadata``         JSON: the user's own metadata (e.g. class names)
``training``         (checkpoints) JSON: the state of the run, written by :mod:`handgrad.train`
==================== ===========================================================================

Tensors are named as ``model.named_parameters()`` names them (``0.weight``), and the layers' state
arrays as ``model.named_state()`` names them (``2.running_mean``); a checkpoint adds tensors of its
own under ``optimizer.`` and ``callback.``, which a model loaded from it ignores.

The architecture is a tree of ``{"type": registered class name, "config": layer.get_config()}``,
in which a layer among the configuration's values (a ``Sequential``'s layers) is itself such a
node. This module knows no layer type: it builds each node with the class registered under its
name (``hg.register_layer``), and checks, before it builds anything, that the parameters the
configurations claim (``parameter_count``) fit in the file's tensors.

Loading checks everything before it builds anything — the header length against the file size,
the JSON, every tensor's dtype, shape and byte range, the metadata fields, the layer types (only
registered classes are ever constructed) and their configurations, and that the tensors are
exactly the parameters and state arrays the architecture has — and reports any problem as
:class:`ModelFileError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._validation import describe
from .._version import __version__
from ..errors import ModelFileError
from ..nn.layer import Layer, layer_class, layer_types
from . import safetensors

FORMAT_VERSION = "1"
MODEL_FORMAT = "handgrad.model"
CHECKPOINT_FORMAT = "handgrad.checkpoint"
#: The prefixes of a checkpoint's tensors that are not the model's.
CHECKPOINT_PREFIXES = ("optimizer.", "callback.")
#: The type of the architecture's root: a model file holds a network of this registered class.
ROOT_TYPE = "Sequential"
_MAX_DEPTH = 32


# Writing -----------------------------------------------------------------------------------------


def save(model: Layer, path: str | os.PathLike, *, metadata: Mapping | None = None) -> None:
    """Write ``model`` (architecture and weights) to ``path`` in the safetensors format.

    ``metadata``: any JSON-serialisable mapping kept with the model (``hg.load(path).metadata``);
    by default the model's own ``model.metadata``. The write is atomic: ``path`` holds either the
    old file or the complete new one.
    """
    check_model(model)
    if metadata is None:
        metadata = getattr(model, "metadata", None)
    safetensors.write(path, model_tensors(model), model_header(model, MODEL_FORMAT, metadata))


def model_tensors(model: Layer) -> dict[str, np.ndarray]:
    """Every array a model file holds for ``model``: its parameters, then its state arrays."""
    tensors = {name: p.data for name, p in model.named_parameters()}
    tensors.update((name, s.data) for name, s in model.named_state())
    return tensors


def check_model(model: Any) -> None:
    """Refuse anything but a network of the root type (``Sequential``)."""
    if not isinstance(model, Layer) or type(model) is not layer_class(ROOT_TYPE):
        raise TypeError(f"model must be a {ROOT_TYPE}, got {describe(model)}")


def model_header(model: Layer, fmt: str, metadata: Mapping | None) -> dict[str, str]:
    """The metadata of a file of format ``fmt`` holding ``model``, with the user's ``metadata``."""
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
    """``{"type": class name, "config": …}``, a layer in the config being a node of its own."""
    name = type(layer).__name__
    if layer_class(name) is not type(layer):
        raise ValueError(
            f"layer {layer!r} of type {name} cannot be saved: only handgrad's layers and classes "
            "registered with hg.register_layer are"
        )
    return {"type": name, "config": _encode(layer.get_config())}


def _encode(value: Any) -> Any:
    if isinstance(value, Layer):
        return architecture(value)
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


# Reading -----------------------------------------------------------------------------------------


def load(path: str | os.PathLike) -> Layer:
    """Read a model written by :func:`save`; ``model.metadata`` holds the saved metadata.

    Raises :class:`ModelFileError` for anything that is not a complete, consistent handgrad model
    file. A checkpoint file loads too (its model part).
    """
    model, _, _ = read(path)
    return model


def read(path: str | os.PathLike) -> tuple[Layer, dict[str, np.ndarray], dict[str, str]]:
    """``(model, every tensor, metadata)`` of a model or checkpoint file, everything checked."""
    tensors, meta = safetensors.read(path, _check_metadata)
    path = os.fspath(path)
    extra = CHECKPOINT_PREFIXES if meta["format"] == CHECKPOINT_FORMAT else ()
    return _build_model(tensors, meta, path, extra), tensors, meta


def _check_metadata(meta: dict[str, str], path: str) -> None:
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


def json_field(meta: dict[str, str], key: str, path: str) -> Any:
    """The metadata field ``key`` parsed as JSON, or a :class:`ModelFileError`."""
    if key not in meta:
        raise ModelFileError(f"{path!r}: the metadata has no {key!r}")
    try:
        return json.loads(meta[key])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path!r}: metadata {key!r} is not valid JSON ({exc})") from None


def _build_model(tensors, meta, path: str, extra_prefixes: tuple[str, ...]) -> Layer:
    arch = json_field(meta, "architecture", path)
    user = json_field(meta, "metadata", path)
    if not isinstance(user, dict):
        raise ModelFileError(f"{path!r}: metadata 'metadata' must be a JSON object")
    if _is_node(arch) and arch["type"] != ROOT_TYPE:
        raise ModelFileError(f"{path!r}: the architecture must be a {ROOT_TYPE}")
    # Layers are only built for the parameters the file really holds: a Dense claiming more
    # weights than the file's tensors contain is refused before anything is allocated.
    budget = [sum(t.size for t in tensors.values())]
    model = _build_layer(arch, path, depth=0, budget=budget)
    expected = dict(model.named_parameters())
    expected.update(model.named_state())
    names = {k for k in tensors if not k.startswith(extra_prefixes)}
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


def _is_node(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"type", "config"}


def _build_layer(spec: Any, path: str, depth: int, budget: list[int]) -> Layer:
    if depth > _MAX_DEPTH:
        raise ModelFileError(f"{path!r}: the architecture nests more than {_MAX_DEPTH} levels")
    if not _is_node(spec):
        raise ModelFileError(
            f"{path!r}: a layer must be {{'type': …, 'config': …}}, got {spec!r:.80}"
        )
    kind, config = spec["type"], spec["config"]
    cls = layer_class(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ModelFileError(
            f"{path!r}: unknown layer type {kind!r:.80}; known types are {layer_types()} (a "
            "user-defined layer must be registered with hg.register_layer before loading)"
        )
    if not isinstance(config, dict):
        raise ModelFileError(f"{path!r}: the config of a {kind} must be a JSON object")
    try:
        config = {k: _decode(v, path, depth, budget) for k, v in config.items()}
        budget[0] -= cls.parameter_count(config)
        if budget[0] < 0:
            raise ModelFileError(
                f"{path!r}: {cls.config_repr(config)} needs more weights than the file holds"
            )
        return cls.from_config(config)
    except ModelFileError:
        raise
    except (TypeError, ValueError, KeyError, OverflowError, MemoryError) as exc:
        raise ModelFileError(f"{path!r}: invalid configuration for {kind}: {exc}") from None


def _decode(value: Any, path: str, depth: int, budget: list[int]) -> Any:
    """A configuration value with every layer node in it built (a Sequential's layers)."""
    if _is_node(value):
        return _build_layer(value, path, depth + 1, budget)
    if isinstance(value, list):
        return [_decode(v, path, depth, budget) for v in value]
    return value
