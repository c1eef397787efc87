"""Export a :class:`~handgrad.Sequential` to ONNX, for inference in any ONNX runtime.

``export_onnx(model, path, opset=13, input_shape=None)`` writes one graph with input ``input`` of
shape ``[batch, *row]`` (``batch`` a dynamic dimension; ``row`` the shape of one row: ``n_in`` for
an MLP, ``(height, width, channels)`` for a CNN) and output ``output``, in the model's dtype
(float32 or float64). Nested Sequentials are flattened; each parameter keeps its name from
``model.named_parameters()`` (``"0.weight"``, ``"1.0.bias"``) as the name of its initializer, and
so does each state array (batch norm's ``"2.running_mean"``).

handgrad's images are channels-last, ``(batch, height, width, channels)``, ONNX's operators
channels-first: a convolution or a pool is written between two ``Transpose`` nodes, so every
tensor between layers keeps handgrad's layout (a ``Flatten`` then orders features ``(h, w, c)``
as handgrad does, and the ``Dense`` after it needs no permutation); onnxruntime removes the pairs
of transposes that cancel. The shape of the tensor each layer receives is known when the graph is
written (``graph.input_shape(layer)``): one row of zeros is run through a copy of the model.

Each layer gives its own nodes: its class's ``to_onnx(graph, path, x)`` adds them to the graph
through the builder's ``node``, ``tensor`` and ``constant``, and returns the name of its output
(``Dense`` → ``Gemm``, ``ReLU`` → ``Relu``, ``Dropout`` → nothing: at inference it is the
identity). Where onnxruntime's CPU kernels take no doubles or lose digits, a layer writes its
float64 form with operators that keep every digit; its docstring says which and why (``GELU``,
``LeakyReLU``). A layer whose own class defines no ``to_onnx`` — a layer of your own without one,
or a subclass of handgrad's, whose forward may differ — raises a ``ValueError`` naming it and its
position, e.g. ``model[1][0]``.

Opsets and IR versions
----------------------
``opset`` may be 9 to 28 (9 is the first with ``Erf`` and ``Where``), and no newer than the
installed onnx knows. The file's ``ir_version`` is the lowest that the opset allows (opset 13 →
IR 7), so that the oldest runtimes able to run the opset can load it.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import check_int, describe
from .._version import __version__
from ..nn.layer import Layer, layer_class, layer_types
from ..nn.sequential import Sequential

if TYPE_CHECKING:
    import onnx

MIN_OPSET = 9
MAX_OPSET = 28

# The first opset of the default domain that each IR version carries (onnx's version table); a
# file gets the highest IR version whose first opset is at most its own.
_FIRST_OPSET_OF_IR_VERSION = {
    4: 9,
    5: 10,
    6: 11,
    7: 12,
    8: 15,
    9: 19,
    10: 21,
    11: 23,
    12: 24,
    13: 25,
    14: 28,
}


def ir_version_for(opset: int) -> int:
    """The lowest ONNX IR version that can carry ``opset`` of the default domain."""
    return max(ir for ir, first in _FIRST_OPSET_OF_IR_VERSION.items() if first <= opset)


def export_onnx(
    model: Sequential,
    path: str | os.PathLike[str],
    opset: int = 13,
    *,
    input_shape: int | tuple[int, ...] | None = None,
) -> onnx.ModelProto:
    """Write ``model`` to ``path`` as an ONNX model and return it (an ``onnx.ModelProto``).

    Parameters
    ----------
    model : Sequential
        The network; nested Sequentials are flattened, Dropout layers dropped. It is only read:
        its parameters, mode and caches are left as they are.
    path : str or os.PathLike
        The file to write (overwritten if it exists); its folder must exist.
    opset : int
        The ONNX opset of the default domain, from 9 to 28.
    input_shape : int or tuple, optional
        The shape of one row of input (``784``, or ``(28, 28, 1)``), needed when the model's
        first layers do not fix it (a ``Conv2D`` fixes only its channels, a ``Reshape`` takes
        rows of any shape with its number of values).

    The graph maps ``input`` of shape ``[batch, *row]`` to ``output``, in the model's dtype;
    ``batch`` is dynamic. A model of layers that take rows of any width (activations alone) has a
    dynamic feature dimension too, ``features``. See the module docstring for the operator each
    layer becomes. Requires the ``onnx`` package: ``pip install 'handgrad[onnx]'``.
    """
    if not isinstance(model, Sequential):
        raise TypeError(
            f"model must be a handgrad Sequential, got {describe(model)}; "
            "wrap a single layer as hg.Sequential([layer])"
        )
    path = _check_path(path)
    opset = check_int(opset, "opset")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be in [{MIN_OPSET}, {MAX_OPSET}], got {opset}")
    leaves = _exportable(model)
    dtype = model.dtype
    _feature_sizes(leaves)
    row, probed = _row_shape(model, input_shape)

    onnx = _import_onnx()
    known = onnx.defs.onnx_opset_version()
    if opset > known:
        raise ValueError(
            f"opset {opset} is newer than the installed onnx {onnx.__version__} knows (up to "
            f"{known}); choose opset <= {known} or upgrade onnx"
        )

    shapes, out_row = _probe(model, probed)
    graph = _GraphBuilder(onnx, dtype, opset, shapes)
    graph.name_output(graph.layer(model, "", "input"))
    architecture = ", ".join(repr(layer) for _, layer in leaves)
    make_info = onnx.helper.make_tensor_value_info
    out_dims = list(out_row) if row is not None else ["features"] * len(out_row)
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes,
            "handgrad",
            [make_info("input", graph.elem_type, ["batch", *(row or ["features"])])],
            [make_info("output", graph.elem_type, ["batch", *out_dims])],
            initializer=graph.initializers,
            doc_string=f"Sequential({architecture})",
        ),
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="handgrad",
        producer_version=__version__,
        doc_string=f"A handgrad {__version__} Sequential in {dtype}, exported at opset {opset}",
    )
    proto.ir_version = ir_version_for(opset)
    path.write_bytes(proto.SerializeToString())
    return proto


# Arguments and the model's structure ------------------------------------------------------------


def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "export_onnx needs the onnx package; install it with: pip install 'handgrad[onnx]'"
        ) from exc
    return onnx


def _check_path(path: Any) -> Path:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must be a str or os.PathLike naming the file, got {describe(path)}")
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"path must name a file, got {path!r}, which is a folder")
    if not out.parent.is_dir():
        raise ValueError(f"path's folder must exist, got {path!r}; {str(out.parent)!r} is none")
    return out


def _position(path: str) -> str:
    """A layer's path as it is reached from the model: ``"1.0"`` → ``model[1][0]``."""
    return "model" + "".join(f"[{part}]" for part in path.split(".") if part)


def _exports(layer: Layer) -> bool:
    """Whether the layer's own class (not a parent's) defines ``to_onnx``."""
    return "to_onnx" in vars(type(layer))


def _exportable(model: Layer) -> list[tuple[str, Layer]]:
    """The model's leaves ``(path, layer)``, after checking that every layer on the way exports."""

    def check(layer: Layer, path: str) -> None:
        if not _exports(layer):
            known = [n for n in layer_types() if _exports_class(n)]
            plain = [n for n in known if n not in ("Dropout", "Sequential")]
            raise ValueError(
                f"{_position(path)} ({layer!r}) has no ONNX form: export_onnx converts only "
                f"{', '.join(plain)}, Dropout and Sequential (not subclasses, whose forward may "
                f"differ), got {type(layer).__name__}"
            )
        for name, sub in layer.sublayers():
            check(sub, f"{path}.{name}" if path else name)

    check(model, "")
    return model.leaves()


def _exports_class(name: str) -> bool:
    return "to_onnx" in vars(layer_class(name))


def _feature_sizes(leaves: list[tuple[str, Layer]]) -> None:
    """Check that each Dense takes as many features as the Dense before it gives, where nothing
    between them changes the shape."""
    n_out = None
    previous = None
    for path, layer in leaves:
        takes = layer.input_features()
        if takes is None:
            if layer.changes_shape or layer.input_shape() is not None:
                n_out = previous = None
            continue
        if previous is not None and n_out is not None and takes != n_out:
            raise ValueError(
                f"{_position(path)} {layer!r} expects {takes} input features, but the "
                f"{type(previous[1]).__name__} before it, {_position(previous[0])} "
                f"{previous[1]!r}, gives {n_out}"
            )
        n_out = getattr(layer, "n_out", None)
        previous = (path, layer)


def _row_shape(model: Layer, given) -> tuple[tuple[int, ...] | None, tuple[int, ...]]:
    """``(the row shape the graph's input declares, or None for a dynamic width; the row shape
    to probe the model with)``."""
    if given is not None:
        if isinstance(given, (tuple, list)):
            if not given:
                raise ValueError("input_shape must not be empty")
            row = tuple(check_int(d, "input_shape", minimum=1) for d in given)
        else:
            row = (check_int(given, "input_shape", minimum=1),)
        return row, row
    shape = model.input_shape()
    if shape is None and not any(
        layer.changes_shape or layer.parameters() for _, layer in model.leaves()
    ):
        return None, (1,)  # layers that take rows of any width: the width stays dynamic
    if shape is None or any(d is None for d in shape):
        takes = "" if shape is None else f" (its first layer takes rows {_shape_text(shape)})"
        raise ValueError(
            f"export_onnx cannot tell the shape of one row of input from the model's layers"
            f"{takes}; pass input_shape=, e.g. input_shape=(28, 28, 1)"
        )
    return tuple(shape), tuple(shape)


def _shape_text(shape) -> str:
    return "(" + ", ".join("any" if d is None else str(d) for d in shape) + ")"


def _recording(forward, key: int, seen: dict):
    def watched(x):
        seen.setdefault(key, tuple(np.shape(x)[1:]))
        return forward(x)

    return watched


def _probe(model: Layer, row: tuple[int, ...]) -> tuple[dict[int, tuple[int, ...]], tuple]:
    """The shape of one row of what each layer of ``model`` receives (by ``id`` of the layer),
    and of the model's output: one row of zeros run, in evaluation mode, through a copy of the
    model, so that the model itself (its caches, its state) is left as it was."""
    twin = copy.deepcopy(model)
    originals, copies = model._all_layers(), twin._all_layers()
    seen: dict[int, tuple[int, ...]] = {}
    for original, layer in zip(originals, copies):
        layer.forward = _recording(layer.forward, id(original), seen)
    with twin.mode(False):
        try:
            out = twin.forward(np.zeros((1, *row), dtype=model.dtype))
        except ValueError as exc:
            raise ValueError(
                f"export_onnx: the model does not take rows of shape {row}: {exc}"
            ) from None
    return seen, tuple(out.shape[1:])


# The graph ------------------------------------------------------------------------------------


@dataclass
class _GraphBuilder:
    """Collects the nodes and initializers of one graph of a single dtype."""

    onnx: Any
    dtype: np.dtype
    opset: int
    shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    _constants: dict[str, float] = field(default_factory=dict)

    @property
    def elem_type(self) -> int:
        tp = self.onnx.TensorProto
        return tp.DOUBLE if self.dtype == np.float64 else tp.FLOAT

    def layer(self, layer: Layer, path: str, x: str) -> str:
        """The output of ``layer``'s nodes on ``x``: its ``to_onnx(graph, path, x)``, where
        ``path`` names its parameters (``"1.0"`` → ``"1.0.weight"``)."""
        return layer.to_onnx(self, path, x)

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        """Add a node named after its output, and return the output's name."""
        node = self.onnx.helper.make_node(op, inputs, [output], name=output, **attributes)
        self.nodes.append(node)
        return output

    def tensor(self, name: str, value: np.ndarray) -> str:
        """Add an initializer holding ``value`` in the graph's dtype."""
        array = np.ascontiguousarray(value, dtype=self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def int64(self, name: str, values) -> str:
        """An int64 initializer (shapes, axes, pads, slice bounds), whatever the graph's dtype."""
        array = np.asarray(values, dtype=np.int64)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def reduce(self, op: str, x: str, axes: list[int], output: str, keepdims: int = 1) -> str:
        """A reduction (``ReduceMean``…) over ``axes``: an attribute before opset 18, an input
        from it."""
        if self.opset < 18:
            return self.node(op, [x], output, axes=axes, keepdims=keepdims)
        return self.node(op, [x, self.int64(f"{output}.axes", axes)], output, keepdims=keepdims)

    def input_shape(self, layer: Layer) -> tuple[int, ...]:
        """The shape of one row of what ``layer`` receives in this graph (without the batch)."""
        return self.shapes[id(layer)]

    def constant(self, name: str, value: float) -> str:
        """A scalar initializer, shared by every layer that asks for ``name``."""
        if name not in self._constants:
            self._constants[name] = value
            self.tensor(name, np.array(value))
        assert self._constants[name] == value, name  # one name, one value: a bug here otherwise
        return name

    def name_output(self, last: str) -> None:
        """Make ``output`` the graph's result: rename the tensor the last node writes, or copy the
        input through when no layer made a node (an empty model, or only Dropout)."""
        if last == "input":
            self.node("Identity", ["input"], "output")
            return
        producer = self.nodes[-1]
        assert list(producer.output) == [last], "the last node must write the model's output"
        producer.output[0] = "output"
        producer.name = "output"
