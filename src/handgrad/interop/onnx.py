"""Export a :class:`~handgrad.Sequential` to ONNX, for inference in any ONNX runtime.

``export_onnx(model, path, opset=13)`` writes one graph with input ``input`` of shape
``[batch, n_in]`` (``batch`` a dynamic dimension) and output ``output``, in the model's dtype
(float32 or float64). Nested Sequentials are flattened; each parameter keeps its name from
``model.named_parameters()`` (``"0.weight"``, ``"1.0.bias"``) as the name of its initializer.

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
    model: Sequential, path: str | os.PathLike[str], opset: int = 13
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

    The graph maps ``input`` of shape ``[batch, n_in]`` to ``output`` of shape
    ``[batch, n_out]``, in the model's dtype; ``batch`` is dynamic. A model without a Dense layer
    has a dynamic feature dimension too, ``features``. See the module docstring for the operator
    each layer becomes. Requires the ``onnx`` package: ``pip install 'handgrad[onnx]'``.
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
    n_in, n_out = _feature_sizes(leaves)

    onnx = _import_onnx()
    known = onnx.defs.onnx_opset_version()
    if opset > known:
        raise ValueError(
            f"opset {opset} is newer than the installed onnx {onnx.__version__} knows (up to "
            f"{known}); choose opset <= {known} or upgrade onnx"
        )

    graph = _GraphBuilder(onnx, dtype, opset)
    graph.name_output(graph.layer(model, "", "input"))
    architecture = ", ".join(repr(layer) for _, layer in leaves)
    make_info = onnx.helper.make_tensor_value_info
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes,
            "handgrad",
            [make_info("input", graph.elem_type, ["batch", n_in or "features"])],
            [make_info("output", graph.elem_type, ["batch", n_out or "features"])],
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


def _feature_sizes(leaves: list[tuple[str, Layer]]) -> tuple[int | None, int | None]:
    """The model's input and output widths, from the layers that fix them (None without any),
    checking that each takes as many features as the one before it gives."""
    n_in = n_out = None
    previous = None
    for path, layer in leaves:
        takes = layer.input_features()
        if takes is None:
            continue
        if previous is None:
            n_in = takes
        elif n_out is not None and takes != n_out:
            raise ValueError(
                f"{_position(path)} {layer!r} expects {takes} input features, but the "
                f"{type(previous[1]).__name__} before it, {_position(previous[0])} "
                f"{previous[1]!r}, gives {n_out}"
            )
        n_out = getattr(layer, "n_out", None)
        previous = (path, layer)
    return n_in, n_out


# The graph ------------------------------------------------------------------------------------


@dataclass
class _GraphBuilder:
    """Collects the nodes and initializers of one graph of a single dtype."""

    onnx: Any
    dtype: np.dtype
    opset: int
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
