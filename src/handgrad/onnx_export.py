"""Export a :class:`~handgrad.Sequential` to ONNX, for inference in any ONNX runtime.

``export_onnx(model, path, opset=13)`` writes one graph with input ``input`` of shape
``[batch, n_in]`` (``batch`` a dynamic dimension) and output ``output``, in the model's dtype
(float32 or float64). Nested Sequentials are flattened; each parameter keeps its name from
``model.named_parameters()`` (``"0.weight"``, ``"1.0.bias"``) as the name of its initializer.

Each layer becomes::

    Dense(n_in→n_out)    Gemm(input, W, b), W stored as handgrad holds it, (n_in, n_out), transB=0
    ReLU                 Relu
    LeakyReLU(α)         LeakyRelu(alpha=α)                       float32
                         Where(x > 0, x, x·α), α a float64 tensor  float64 (see below)
    Sigmoid, Tanh        Sigmoid, Tanh
    Softmax              Softmax(axis=1) before opset 13, Softmax(axis=-1) from opset 13
    Identity             Identity
    GELU                 float32, opset ≥ 20: Gelu(approximate="none" or "tanh")
                         float32, opset < 20: ½·x·(1 + Erf(x/√2)), or
                                              ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
                         float64: see below
    Dropout              nothing: an exported model is for inference, where Dropout is the identity

Any other layer, including a subclass of one of these (its ``forward`` may differ), has no ONNX
form and raises a ``ValueError`` naming it and its position, e.g. ``model[1][0]``.

Float64
-------
onnxruntime's CPU kernels do not all take doubles, and some that do are less precise than a
double. Measured with onnx 1.23 and onnxruntime 1.32:

* ``Erf`` has no double kernel (``NOT_IMPLEMENTED``), and ``Gelu(approximate="none")`` is expanded
  into ``Erf``, so it fails the same way. A float64 exact GELU is written out with the operators
  that do take doubles: with ``a = |x|/√2``, ``Φ(x) = h`` for ``x < 0`` and ``1 − h`` otherwise,
  where ``h = ½·erfc(a)`` and

  - for ``a < 2.5``: ``erfc(a) = 1 − (2/√π)·a·e^(−a²)·s`` with
    ``s = Σ_{k≤35} (2a²)^k / (2k+1)!! = 1 + t/3·(1 + t/5·(1 + …))``, ``t = 2a²``, a series of
    positive terms;
  - for ``a ≥ 2.5``: ``erfc(a) = e^(−a²)/√π · 1/(a + ½/(a + 1/(a + (3/2)/(a + …))))``, a
    continued fraction of 30 levels.

  These are the two expansions of handgrad's own ``erfc``, with as many terms as double precision
  needs on each side of 2.5 (fewer nodes than a split at 1.5). Each branch sees its input clamped
  to its side of the split (``Min``/``Max``), so neither computes an overflow that ``Where`` would
  then discard. On 16,004 points of [−40, 40], onnxruntime's result is within
  8.9e-16·max(1, |y|) of ``x·Φ(x)`` computed by mpmath at 40 digits (handgrad's: 3.6e-16).
* ``Gelu(approximate="tanh")`` has a double kernel, but on inputs of standard deviation 4 it is
  off the formula by up to 5.8e-9; the formula is written out with ``Tanh``, which agrees with
  NumPy's to 6.7e-16 there.
* ``LeakyRelu`` has a double kernel from opset 16 only, and its ``alpha`` is a float32 attribute
  in every opset: with α = 0.1, ``LeakyRelu(−1.0)`` in double is off by 1.5e-9. ``Where(x > 0, x,
  x·α)`` with α stored as a float64 tensor is exact, as ``np.where`` is, at every opset.
* onnxruntime's graph optimizer removes an ``Add`` or ``Sub`` of a double constant that is 0 once
  rounded to float32, and a ``Mul`` or ``Div`` by one that is 1 once rounded to float32, as if
  they were no-ops. So no constant in these graphs is that small (the series above is nested
  with the divisors 2k+1 rather than summed with the coefficients 1/(2k+1)!!, which fall below
  1e-45), and a LeakyReLU whose α rounds to 1 in float32 computes ``x + x·(α − 1)``.

Opsets and IR versions
----------------------
``opset`` may be 9 to 28 (9 is the first with ``Erf`` and ``Where``), and no newer than the
installed onnx knows. The file's ``ir_version`` is the lowest that the opset allows (opset 13 →
IR 7), so that the oldest runtimes able to run the opset can load it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import check_int, describe
from .activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .layers import Dense, Dropout, Layer
from .model import Sequential

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

# Double-precision erfc, see the module docstring: below the split a series, above it a continued
# fraction. The term counts are what float64 needs on each side of the split.
_ERFC_SPLIT = 2.5
_ERF_SERIES_TERMS = 36
_ERFC_FRACTION_LEVELS = 30

_TANH_GELU_K = math.sqrt(2 / math.pi)
_TANH_GELU_C = 0.044715


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
    layers = _flatten(model)
    dtype = model.dtype
    n_in, n_out = _feature_sizes(layers)

    onnx = _import_onnx()
    known = onnx.defs.onnx_opset_version()
    if opset > known:
        raise ValueError(
            f"opset {opset} is newer than the installed onnx {onnx.__version__} knows (up to "
            f"{known}); choose opset <= {known} or upgrade onnx"
        )

    graph = _GraphBuilder(onnx, dtype, opset)
    x = "input"
    for _position, prefix, layer in layers:
        x = _CONVERTERS[type(layer)](graph, prefix, layer, x)
    graph.name_output(x)

    from . import __version__

    architecture = ", ".join(repr(layer) for _, _, layer in layers)
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


def _flatten(model: Sequential) -> list[tuple[str, str, Layer]]:
    """``(position, parameter prefix, layer)`` for every layer to export, in order.

    The position reads as the layer is reached from the model (``model[1][0]``); the prefix is the
    one ``named_parameters`` gives its parameters (``1.0.``).
    """
    out: list[tuple[str, str, Layer]] = []

    def walk(seq: Sequential, position: str, prefix: str) -> None:
        for i, layer in enumerate(seq.layers):
            here, name = f"{position}[{i}]", f"{prefix}{i}"
            if type(layer) is Sequential:
                walk(layer, here, f"{name}.")
            elif type(layer) is Dropout:
                continue  # the identity at inference
            elif type(layer) in _CONVERTERS:
                out.append((here, name, layer))
            else:
                raise ValueError(
                    f"{here} ({layer!r}) has no ONNX form: export_onnx converts only "
                    f"{', '.join(sorted(t.__name__ for t in _CONVERTERS))}, Dropout and Sequential "
                    f"(not subclasses, whose forward may differ), got {type(layer).__name__}"
                )

    walk(model, "model", "")
    return out


def _feature_sizes(layers: list[tuple[str, str, Layer]]) -> tuple[int | None, int | None]:
    """The model's input and output widths, from its Dense layers (None without any), checking
    that each Dense takes as many features as the one before it gives."""
    n_in = n_out = None
    previous = None
    for position, _, layer in layers:
        if not isinstance(layer, Dense):
            continue
        if previous is None:
            n_in = layer.n_in
        elif layer.n_in != n_out:
            raise ValueError(
                f"{position} {layer!r} expects {layer.n_in} input features, but the Dense before "
                f"it, {previous[0]} {previous[1]!r}, gives {n_out}"
            )
        n_out = layer.n_out
        previous = (position, layer)
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


# One converter per layer type: (graph, parameter prefix, layer, input name) -> output name.


def _dense(g: _GraphBuilder, prefix: str, layer: Dense, x: str) -> str:
    weight = g.tensor(f"{prefix}.weight", layer.weight.data)
    bias = g.tensor(f"{prefix}.bias", layer.bias.data)
    # handgrad's W is (n_in, n_out) so that Z = X·W + b: no transpose, transB=0.
    return g.node("Gemm", [x, weight, bias], f"{prefix}.gemm", transA=0, transB=0)


def _relu(g: _GraphBuilder, prefix: str, layer: ReLU, x: str) -> str:
    return g.node("Relu", [x], f"{prefix}.relu")


def _leaky_relu(g: _GraphBuilder, prefix: str, layer: LeakyReLU, x: str) -> str:
    if g.dtype == np.float32:
        return g.node("LeakyRelu", [x], f"{prefix}.leaky_relu", alpha=layer.alpha)
    # LeakyRelu's alpha is a float32 attribute, and its double kernel starts at opset 16.
    positive = g.node("Greater", [x, g.constant("zero", 0.0)], f"{prefix}.positive")
    if np.float32(layer.alpha) == 1 and layer.alpha != 1:
        # onnxruntime drops a Mul by a double that is 1 in float32; x + x·(α − 1) keeps α's digits.
        delta = g.tensor(f"{prefix}.alpha_minus_1", np.array(layer.alpha - 1))
        small = g.node("Mul", [x, delta], f"{prefix}.scaled_delta")
        scaled = g.node("Add", [x, small], f"{prefix}.scaled")
    else:
        alpha = g.tensor(f"{prefix}.alpha", np.array(layer.alpha))
        scaled = g.node("Mul", [x, alpha], f"{prefix}.scaled")
    return g.node("Where", [positive, x, scaled], f"{prefix}.leaky_relu")


def _sigmoid(g: _GraphBuilder, prefix: str, layer: Sigmoid, x: str) -> str:
    return g.node("Sigmoid", [x], f"{prefix}.sigmoid")


def _tanh(g: _GraphBuilder, prefix: str, layer: Tanh, x: str) -> str:
    return g.node("Tanh", [x], f"{prefix}.tanh")


def _softmax(g: _GraphBuilder, prefix: str, layer: Softmax, x: str) -> str:
    # Before opset 13 Softmax flattens its input to 2-D around `axis`; on (batch, features) both
    # forms are the row-wise softmax.
    return g.node("Softmax", [x], f"{prefix}.softmax", axis=1 if g.opset < 13 else -1)


def _identity(g: _GraphBuilder, prefix: str, layer: Identity, x: str) -> str:
    return g.node("Identity", [x], f"{prefix}.identity")


def _gelu(g: _GraphBuilder, prefix: str, layer: GELU, x: str) -> str:
    p = f"{prefix}.gelu"
    if g.dtype == np.float32 and g.opset >= 20:
        return g.node("Gelu", [x], p, approximate=layer.approximate)
    if layer.approximate == "tanh":
        return _gelu_tanh_formula(g, p, x)
    cdf = _normal_cdf(g, p, x) if g.dtype == np.float64 else _normal_cdf_erf(g, p, x)
    return g.node("Mul", [x, cdf], p)


def _gelu_tanh_formula(g: _GraphBuilder, p: str, x: str) -> str:
    """``½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``."""
    x2 = g.node("Mul", [x, x], f"{p}.x2")
    x3 = g.node("Mul", [x2, x], f"{p}.x3")
    cubic = g.node("Mul", [x3, g.constant("gelu_tanh_c", _TANH_GELU_C)], f"{p}.cubic")
    inner = g.node("Add", [x, cubic], f"{p}.inner")
    u = g.node("Mul", [inner, g.constant("sqrt_2_over_pi", _TANH_GELU_K)], f"{p}.u")
    th = g.node("Tanh", [u], f"{p}.tanh")
    one_plus = g.node("Add", [th, g.constant("one", 1.0)], f"{p}.one_plus")
    half_x = g.node("Mul", [x, g.constant("half", 0.5)], f"{p}.half_x")
    return g.node("Mul", [half_x, one_plus], p)


def _normal_cdf_erf(g: _GraphBuilder, p: str, x: str) -> str:
    """``Φ(x) = ½·(1 + Erf(x/√2))``, for dtypes whose Erf kernel exists (float32)."""
    u = g.node("Mul", [x, g.constant("sqrt_half", math.sqrt(0.5))], f"{p}.u")
    erf = g.node("Erf", [u], f"{p}.erf")
    one_plus = g.node("Add", [erf, g.constant("one", 1.0)], f"{p}.one_plus")
    return g.node("Mul", [one_plus, g.constant("half", 0.5)], f"{p}.cdf")


def _normal_cdf(g: _GraphBuilder, p: str, x: str) -> str:
    """``Φ(x)`` in double precision without Erf; the method is in the module docstring."""
    const = g.constant
    abs_x = g.node("Abs", [x], f"{p}.abs")
    a = g.node("Mul", [abs_x, const("sqrt_half", math.sqrt(0.5))], f"{p}.a")
    split = const("erfc_split", _ERFC_SPLIT)

    # a < 2.5: erfc(a) = 1 − (2/√π)·a·e^(−a²)·s,  s = Σ_k (2a²)^k / (2k+1)!!, nested as
    # s = 1 + t/3·(1 + t/5·(1 + …)) with t = 2a². Not Horner over the coefficients 1/(2k+1)!!:
    # those below 1e-45 are zero in float32, and onnxruntime then drops their Add as a no-op.
    a_lo = g.node("Min", [a, split], f"{p}.a_lo")
    a_lo2 = g.node("Mul", [a_lo, a_lo], f"{p}.a_lo2")
    t = g.node("Mul", [a_lo2, const("two", 2.0)], f"{p}.t")
    s = const("one", 1.0)
    for k in range(_ERF_SERIES_TERMS - 1, 0, -1):
        st = g.node("Mul", [s, t], f"{p}.series_{k}_t")
        st = g.node("Div", [st, const(f"odd_{2 * k + 1}", 2.0 * k + 1)], f"{p}.series_{k}_q")
        s = g.node("Add", [st, const("one", 1.0)], f"{p}.series_{k}")
    gauss_lo = g.node("Exp", [g.node("Neg", [a_lo2], f"{p}.neg_a_lo2")], f"{p}.gauss_lo")
    erf = g.node("Mul", [a_lo, const("two_over_sqrt_pi", 2 / math.sqrt(math.pi))], f"{p}.erf_a")
    erf = g.node("Mul", [erf, gauss_lo], f"{p}.erf_ag")
    erf = g.node("Mul", [erf, s], f"{p}.erf")
    erfc_lo = g.node("Sub", [const("one", 1.0), erf], f"{p}.erfc_lo")

    # a ≥ 2.5: erfc(a) = e^(−a²)/√π / f,  f = a + ½/(a + 1/(a + (3/2)/(a + …)))
    a_hi = g.node("Max", [a, split], f"{p}.a_hi")
    f = a_hi
    for k in range(_ERFC_FRACTION_LEVELS, 0, -1):
        q = g.node("Div", [const(f"erfc_fraction_{k}", k / 2), f], f"{p}.fraction_{k}_q")
        f = g.node("Add", [a_hi, q], f"{p}.fraction_{k}")
    a_hi2 = g.node("Mul", [a_hi, a_hi], f"{p}.a_hi2")
    gauss_hi = g.node("Exp", [g.node("Neg", [a_hi2], f"{p}.neg_a_hi2")], f"{p}.gauss_hi")
    tail = g.node("Mul", [gauss_hi, const("inv_sqrt_pi", 1 / math.sqrt(math.pi))], f"{p}.tail_g")
    erfc_hi = g.node("Div", [tail, f], f"{p}.erfc_hi")

    below = g.node("Less", [a, split], f"{p}.below_split")
    erfc = g.node("Where", [below, erfc_lo, erfc_hi], f"{p}.erfc")
    # h = ½·erfc(|x|/√2) = Φ(−|x|); Φ(x) = h for x < 0 and 1 − h otherwise.
    h = g.node("Mul", [erfc, const("half", 0.5)], f"{p}.h")
    one_minus_h = g.node("Sub", [const("one", 1.0), h], f"{p}.one_minus_h")
    negative = g.node("Less", [x, const("zero", 0.0)], f"{p}.negative")
    return g.node("Where", [negative, h, one_minus_h], f"{p}.cdf")


_CONVERTERS = {
    Dense: _dense,
    ReLU: _relu,
    LeakyReLU: _leaky_relu,
    Sigmoid: _sigmoid,
    Tanh: _tanh,
    Softmax: _softmax,
    Identity: _identity,
    GELU: _gelu,
}
