"""The layer contract, the registry of layer types, and how a layer describes itself.

A layer maps a batch ``x`` (batch first) to ``y`` and back-propagates:

* ``forward(x) -> y`` computes the output and caches, in one private place, what ``backward``
  needs. A second ``forward`` overwrites that cache; it never grows.
* ``backward(grad_out) -> grad_in`` takes dL/dy and returns dL/dx, and writes dL/dθ into
  ``θ.grad`` for each of the layer's parameters θ (overwriting, not adding).

Arrays a layer returns belong to the caller: a later call never writes into them.

A layer checks the type and shape of what it gets, which costs nothing per step. Whether the
values are finite is checked once, where data enter a network: ``model(x)``, ``fit``,
``predict``, ``evaluate``, ``gradcheck`` and ``trace``.

Everything else handgrad knows about a layer type lives with its class, and is found through it:

==========================  =====================================================================
``get_config()``            the constructor arguments that rebuild it (model files)
``@register_layer``         its name in model files: loading builds only registered classes
``parameter_count(config)`` how many numbers a saved configuration holds, checked against the file
                            before anything is built
``formulas(training)``      its formulas for ``hg.trace``: symbols, words, the values they use,
                            and (``Formula.element``) how one element of the result is worked out
``trace_letter``,           the letter of its output (``Z`` for Dense, ``A`` for activations) and
``trace_symbols``           of its parameters and state (``W``, ``b``) in the trace
``input_shape()``           the shape of one row of input, where the layer fixes it
``named_state()``           its :class:`~handgrad.nn.parameter.State` arrays (running statistics),
                            found as parameters are; files carry them, optimizers never see them
``to_onnx(graph, path, x)`` the ONNX nodes that compute it (``hg.export_onnx``)
``activation_name``,        for activations: the name the command line and the scikit-learn
``default_init``            estimators know it by, and the initialiser of the Dense before it
==========================  =====================================================================
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validation import as_numeric_array, describe
from .parameter import Parameter, State

#: What a :class:`Formula` may name, besides parameters and state: the layer's input, output and
#: dL/d(output); for a container around one branch (``Residual``), the branch's output and the
#: gradient it returned.
TRACE_VALUES = ("input", "output", "grad_out", "branch", "branch_grad")

#: The most bytes that any one array of the network may hold while ``predict`` and ``evaluate``
#: run a chunk of rows: chunks are sized by it (see :func:`chunk_rows`).
CHUNK_BYTES = 16 << 20
#: Rows per chunk when the network is small (the MLPs' batch of old).
MAX_CHUNK_ROWS = 4096


@dataclass(frozen=True)
class Worked:
    """One element of a formula's result, worked out with its numbers.

    ``lines`` are text with the placeholders of :class:`Formula` (``{x}``, ``{y}``, ``{weight}``…),
    which the trace fills with the step's symbols: the formula for this element, then its numbers,
    e.g. ``{y}[0, 3, 5, 2] = Σ window ⊙ kernel + {bias}[2]`` and ``= 0.8125 + 0.1 = 0.9125``.
    ``parts`` are labelled arrays worth seeing whole (a convolution's window and kernel), their
    labels with the same placeholders. ``cells`` names the operand cells the element used: pairs
    ``(value, index)`` where ``value`` is one of the formula's ``uses`` and ``index`` a tuple of
    ints and slices into it (``("input", (0, slice(2, 5), slice(4, 7), slice(None)))``), so that
    a page can point at them. ``value`` is what the worked computation gives; the trace sets it
    beside the element the layer computed.
    """

    index: tuple[int, ...]
    lines: tuple[str, ...]
    value: float
    parts: tuple[tuple[str, np.ndarray], ...] = ()
    cells: tuple[tuple[str, tuple], ...] = ()


#: ``element(values, index) -> Worked``: ``values`` maps each name in the formula's ``uses`` to
#: its array, ``index`` is an element of the formula's result.
ElementRule = Callable[[Mapping[str, np.ndarray], tuple[int, ...]], Worked]


@dataclass(frozen=True)
class Formula:
    """One formula of a layer's step, as ``hg.trace`` shows it.

    ``symbols`` and ``words`` are text with placeholders that the trace fills with the step's
    symbols: ``{x}`` the layer's input (``A1``), ``{y}`` its output (``Z2``), ``{dy}`` = dL/d{y},
    ``{dx}`` = dL/d{x}, ``{<parameter>}`` each parameter's symbol (``{weight}`` → ``W2``) and
    ``{<state>}`` each state array's, and ``{branch}`` the output of a container's branch.

    ``phase`` is ``"forward"`` or ``"backward"``; ``result`` is what the formula gives:
    ``"output"`` (forward), ``"input_grad"`` (dL/dx), a parameter's name (its gradient) or a
    state's name (its new value, forward). ``uses`` names the values shown beside it: one of
    :data:`TRACE_VALUES`, a parameter's name, or a state's name (its value before the step).
    ``words=None`` on the input gradient takes the trace's standard sentence.

    ``element``, when given, works one element of the result out in full from the values of
    ``uses`` (see :class:`Worked`): the trace shows it under the formula.
    """

    phase: str
    result: str
    symbols: str
    words: str | None
    uses: tuple[str, ...] = ()
    element: ElementRule | None = None


def number(v) -> str:
    """A number as worked elements print it: 7 significant digits, ``-0`` as ``0``."""
    return format(float(v) + 0.0, ".7g")


def index_text(index: tuple) -> str:
    """``(0, slice(2, 5), slice(None), 3)`` → ``"[0, 2:5, :, 3]"``."""

    def one(i) -> str:
        if isinstance(i, slice):
            start = "" if i.start is None else str(i.start)
            stop = "" if i.stop is None else str(i.stop)
            step = "" if i.step in (None, 1) else f":{i.step}"
            return f"{start}:{stop}{step}"
        return str(int(i))

    return "[" + ", ".join(one(i) for i in index) + "]"


def pointwise(expression: Callable[..., tuple[str, float]], result: str = "{y}") -> ElementRule:
    """The element rule of an elementwise formula.

    ``expression(at, **scalars)`` gets the element's index as text (``"[0, 2]"``) and, by the
    names of the formula's ``uses``, the element of each value at that index; it returns the
    right-hand side written out (``"max(0, {x}[0, 2]) = max(0, 3.99) = 3.99"``) and the value.
    The cells used are the same element of every value.
    """

    def rule(values: Mapping[str, np.ndarray], index: tuple[int, ...]) -> Worked:
        index = tuple(int(i) for i in index)
        scalars = {name: float(np.asarray(v)[index]) for name, v in values.items()}
        text, value = expression(index_text(index), **scalars)
        return Worked(
            index=index,
            lines=(f"{result}{index_text(index)} = {text}",),
            value=float(value),
            cells=tuple((name, index) for name in values),
        )

    return rule


def sum_of_products(a: np.ndarray, b: np.ndarray, limit: int = 6) -> str:
    """``a₀·b₀ + a₁·b₁ + …`` written out with the numbers, the middle elided past ``limit``
    products (``… (144 products) …``)."""
    a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
    terms = [f"{number(p)}·{number(q)}" for p, q in zip(a, b)]
    if len(terms) > limit:
        half = limit // 2
        terms = [*terms[:half], f"… ({len(a)} products in all) …", *terms[-half:]]
    return " + ".join(terms)


class Layer:
    """Base class of every layer.

    A subclass writes ``forward`` and ``backward``; any :class:`~handgrad.Parameter` it keeps as an
    attribute is found by ``parameters()`` without registration, and so is any layer it keeps as
    an attribute (its sublayers), so optimizers, ``Sequential``, ``gradcheck`` and training work
    with it as they do with the built-in layers.
    """

    #: Training or evaluation mode; layers such as Dropout behave differently in each.
    training: bool = True
    #: Attributes holding what the last forward kept for backward (released by ``release()``).
    _transient: tuple[str, ...] = ()

    #: The letter of the layer's output in ``hg.trace`` (``Y1``, ``Y2``…).
    trace_letter: ClassVar[str] = "Y"
    #: Parameter attribute → its letter in ``hg.trace``; an attribute not named keeps its name.
    trace_symbols: ClassVar[dict[str, str]] = {}
    #: For activations: the name ``handgrad train --activation`` and the scikit-learn estimators
    #: take, and the initialiser suited to the Dense layer that feeds it.
    activation_name: ClassVar[str | None] = None
    default_init: ClassVar[str] = "glorot_uniform"
    #: Whether the output's shape differs from the input's (Flatten, pooling): a network's input
    #: shape is then not that of a layer after it (``Sequential.input_shape``).
    changes_shape: ClassVar[bool] = False

    # The contract --------------------------------------------------------------------------------

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement backward(grad_out)")

    def backward_params(self, grad_out: np.ndarray) -> None:
        """Fill the parameter gradients without returning dL/dx.

        Called for the first trainable layer of a network, whose input gradient nobody needs.
        The default runs ``backward`` and drops the result; a layer overrides it when skipping
        dL/dx saves work (``Dense`` saves a whole matrix product).
        """
        self.backward(grad_out)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # Structure -----------------------------------------------------------------------------------

    def sublayers(self) -> list[tuple[str, Layer]]:
        """``(name, layer)`` for each layer held as an attribute, in order (a container names its
        own: ``Sequential`` gives ``("0", …), ("1", …)``)."""
        return [(name, value) for name, value in vars(self).items() if isinstance(value, Layer)]

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, Parameter)`` for each parameter held as an attribute, in order, then (unless
        ``recurse=False``) those of each sublayer under its name (``"0.weight"``)."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield name, value
        if recurse:
            for prefix, layer in self.sublayers():
                for name, p in layer.named_parameters():
                    yield f"{prefix}.{name}", p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_state(self, recurse: bool = True) -> Iterator[tuple[str, State]]:
        """``(name, State)`` for each state array held as an attribute (batch norm's
        ``running_mean``), then those of each sublayer, named as parameters are
        (``"2.running_mean"``)."""
        for name, value in vars(self).items():
            if isinstance(value, State):
                yield name, value
        if recurse:
            for prefix, layer in self.sublayers():
                for name, s in layer.named_state():
                    yield f"{prefix}.{name}", s

    def generators(self) -> list[tuple[str, np.random.Generator]]:
        """``(name, Generator)`` for each random generator the layer and its sublayers draw from
        (Dropout's masks), named as parameters are (``"2.rng"``)."""
        out = [(n, v) for n, v in vars(self).items() if isinstance(v, np.random.Generator)]
        for prefix, layer in self.sublayers():
            out += [(f"{prefix}.{name}", g) for name, g in layer.generators()]
        return out

    def leaves(self) -> list[tuple[str, Layer]]:
        """The layers that compute, in the order they run, as ``(path, layer)``: the layer itself
        (path ``""``); a ``Sequential`` opens up into its layers' leaves (``"1.0"``)."""
        return [("", self)]

    def input_features(self) -> int | None:
        """The number of features of one row of input, when the layer fixes it (``Dense``:
        ``n_in``); ``None`` when it takes any, or rows of more than one axis."""
        shape = self.input_shape()
        return shape[0] if shape is not None and len(shape) == 1 else None

    def input_shape(self) -> tuple[int | None, ...] | None:
        """The shape of one row of input (without the batch axis) when the layer fixes it, with
        ``None`` for an axis of any size (``Conv2D(3→8)``: ``(None, None, 3)``); ``None`` when
        the layer takes rows of any shape. A layer that only says ``input_features()`` takes rows
        of that many features."""
        if type(self).input_features is not Layer.input_features:
            n = self.input_features()
            return None if n is None else (n,)
        return None

    def largest_activation(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """``(output, n)`` for a batch ``x`` run in the current mode, where ``n`` is the largest
        number of values any one array of the computation holds (its input, its output, or a
        container's inner outputs): ``predict`` and ``evaluate`` size their chunks by it."""
        y = self.forward(x)
        return y, max(x.size, y.size)

    # Passes computed together -------------------------------------------------------------------

    def fuses_after(self, before: tuple[Layer, ...]) -> int:
        """How many of the layers right before this one it can compute with itself in one pass,
        through :meth:`forward_fused` and :meth:`backward_fused`: ``before`` holds them, the
        nearest last; 0 for none. ``Sequential`` asks, trying the longest chain first, and runs
        the chain so whenever no method of its layers is replaced on the instance (a trace
        watching them sees each layer run on its own). The chain must compute exactly what the
        layers compute one after the other: ``MaxPool2D`` after ``ReLU``, or after ``Conv2D``,
        ``ReLU``."""
        return 0

    def forward_fused(self, previous: tuple[Layer, ...], x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} fuses with no layer")

    def backward_fused(
        self, previous: tuple[Layer, ...], grad_out: np.ndarray, input_grad: bool = True
    ) -> np.ndarray | None:
        """Back-propagate through ``previous`` and this layer; without ``input_grad``, fill
        the parameters' gradients only and return None (the chain is the network's first)."""
        raise NotImplementedError(f"{type(self).__name__} fuses with no layer")

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters (float64 for a layer without any)."""
        params = self.parameters()
        return params[0].data.dtype if params else np.dtype(np.float64)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    # Modes and per-call state --------------------------------------------------------------------

    def train(self, mode: bool = True) -> Layer:
        """Switch to training mode (or evaluation mode with ``mode=False``), sublayers included;
        returns the layer."""
        self.training = bool(mode)
        for _, layer in self.sublayers():
            layer.train(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    @contextlib.contextmanager
    def mode(self, training: bool) -> Iterator[Layer]:
        """``with layer.mode(training=False): …`` runs the block in that mode, then gives every
        layer (sublayers included) back the mode it had, even when the block raised."""
        layers = self._all_layers()
        saved = [(layer, layer.__dict__.get("training", _UNSET)) for layer in layers]
        if all(type(layer).train is Layer.train for layer in layers):
            flag = bool(training)  # what train() does, without walking the layers again
            for layer in layers:
                layer.training = flag
        else:
            self.train(training)
        try:
            yield self
        finally:
            for layer, flag in saved:
                if flag is _UNSET:
                    layer.__dict__.pop("training", None)
                else:
                    layer.training = flag

    def _all_layers(self) -> list[Layer]:
        out = [self]
        for _, layer in self.sublayers():
            out += layer._all_layers()
        return out

    def release(self) -> None:
        """Drop what the last forward kept for backward (its input, masks), so that no array of
        the caller's stays referenced. ``predict`` and ``evaluate`` call it. The scratch buffers
        stay: they belong to the layer, and the next call reuses them."""
        for name in self._transient:
            if name in self.__dict__:
                self.__dict__[name] = None
        for _, layer in self.sublayers():
            layer.release()

    def __getstate__(self) -> dict[str, Any]:
        # A pickled layer carries its weights and settings, not the per-call state: that could be
        # large, and a copy loaded read-only (memory-mapped) could not be written into again.
        state = dict(self.__dict__)
        for name in (*self._transient, "_scratch_buffers", "_scratch_views", "_scratch_prepared"):
            state.pop(name, None)
        return state

    # Configuration (model files) -----------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer's architecture (not its weights);
        a sublayer may be among them, as a layer object."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A new layer of this architecture (its weights are set separately, e.g. by ``load``)."""
        return cls(**config)

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        """How many numbers the parameters of ``cls.from_config(config)`` hold, computed from the
        configuration alone, so that a model file can be checked before anything is built. A
        layer whose parameters are large overrides it; the default is 0."""
        return 0

    # Trace and ONNX ------------------------------------------------------------------------------

    def trace_values(self) -> dict[str, np.ndarray]:
        """Arrays the last forward made that are neither its output nor a parameter, which the
        trace shows and formulas may use by name (Dropout's mask): none by default."""
        return {}

    def formulas(self, training: bool) -> tuple[Formula, ...] | None:
        """The layer's formulas for ``hg.trace`` in the mode the step ran in, forward first, or
        ``None`` when none is known: the trace then shows the numbers alone."""
        return None

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        """How a layer of this configuration shows itself: its ``repr``, and its name in the
        errors of model files, which may describe one that was never built."""
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{cls.__name__}({args})"

    def __repr__(self) -> str:
        return type(self).config_repr(self.get_config())

    # Helpers for subclasses ----------------------------------------------------------------------

    def _scratch(self, key: str, shape: tuple[int, ...], dtype, fill=None) -> np.ndarray:
        """A reusable work array of ``shape``, private to this layer.

        One flat buffer per ``key`` grows to the largest size asked for; smaller requests (the
        last, shorter batch of an epoch) get a view of it, so steady-state training allocates
        nothing here. With ``fill``, a new buffer starts filled with that value (and must then
        never be written to). Only for values kept inside the layer, never for arrays it returns.
        """
        views = self.__dict__.get("_scratch_views")
        if views is not None:
            view = views.get((key, shape, dtype))
            if view is not None:
                return view
        else:
            views = self.__dict__["_scratch_views"] = {}
        buffers = self.__dict__.setdefault("_scratch_buffers", {})
        size = math.prod(shape)
        buf = buffers.get(key)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = buffers[key] = np.empty(size, dtype=dtype)
            if fill is not None:
                buf.fill(fill)
            for stale in [k for k in views if k[0] == key]:  # views of the replaced buffer
                del views[stale]
        view = views[(key, shape, dtype)] = buf[:size].reshape(shape)
        return view

    def _prepared_scratch(self, key: str, shape: tuple[int, ...], dtype, prepare) -> np.ndarray:
        """A work array like :meth:`_scratch` whose contents outside what each call writes must
        hold something (a padding's zeros, a column of ones): ``prepare(view)`` sets it whenever
        the view differs from the one this key gave last, so a part the calls never write keeps
        what ``prepare`` put there, whichever shapes were asked for in between."""
        view = self._scratch(key, shape, dtype)
        prepared = self.__dict__.setdefault("_scratch_prepared", {})
        if prepared.get(key) is not view:
            prepare(view)
            prepared[key] = view
        return view

    def _cached(self, name: str):
        """A value forward cached for backward, or a clear error if forward has not run."""
        value = self.__dict__.get(name)
        if value is None:
            raise RuntimeError(f"{self!r}.backward called before forward")
        return value

    def _check_grad_out(self, grad_out, expected_shape: tuple[int, ...], dtype) -> np.ndarray:
        """``grad_out`` as an array of the last output's shape, in the layer's dtype."""
        if (
            type(grad_out) is np.ndarray
            and grad_out.dtype == dtype
            and grad_out.shape == expected_shape
        ):
            return grad_out  # the common case, checked without building any message
        grad = as_numeric_array(grad_out, f"{self!r}.backward grad_out")
        if grad.shape != expected_shape:
            raise ValueError(
                f"{self!r}.backward expected grad_out of shape {expected_shape} "
                f"(the shape of its last output), got {grad.shape}"
            )
        return grad.astype(dtype)


_UNSET = object()


def check_rows(layer: Layer, shape: tuple[int, ...], name: str) -> None:
    """Refuse data of ``shape`` (``(n, …)``) whose rows are not what the layer takes, by its
    ``input_shape()``, before any of them is computed."""
    expected = layer.input_shape()
    rows = tuple(shape[1:])
    if expected is None or (
        len(rows) == len(expected) and all(e is None or e == r for e, r in zip(expected, rows))
    ):
        return
    if len(expected) == 1:
        raise ValueError(
            f"{name} must have {expected[0]} features per row (the network's first layer takes "
            f"{expected[0]}), got shape {tuple(shape)}"
        )
    want = ", ".join("any" if e is None else str(e) for e in expected)
    raise ValueError(
        f"{name} must have rows of shape ({want}) (what the network's first layer takes), got "
        f"shape {tuple(shape)}"
    )


def chunk_rows(layer: Layer, row: np.ndarray, limit: int = MAX_CHUNK_ROWS) -> int:
    """How many rows ``predict`` and ``evaluate`` run at a time through ``layer``, given one row
    of input (shape ``(1, …)``): as many as keep every array of the computation within
    :data:`CHUNK_BYTES`, at most ``limit``, at least 1. An MLP on 784 features gets ``limit``; a
    convolution whose output holds 12,544 values a row gets 334 in float32. So their memory does
    not grow with the number of rows. The caller sets the mode (evaluation: no state changes)."""
    _, largest = layer.largest_activation(row)
    per_row = max(1, largest) * layer.dtype.itemsize
    return max(1, min(limit, CHUNK_BYTES // per_row))


def describes_itself(
    obj: Any, method: str, runs: tuple[str, ...] = ("forward", "backward")
) -> bool:
    """Whether ``obj``'s ``method`` (``"formulas"``) describes what ``obj`` computes: the class that
    supplies the method also supplies the methods ``runs`` that ``obj`` runs. A subclass that
    rewrites one of them computes something else, which its parent's formulas would misdescribe."""
    kind = type(obj)
    owner = next(c for c in kind.__mro__ if method in vars(c))
    return all(getattr(kind, name) is getattr(owner, name) for name in runs)


# The registry of layer types -------------------------------------------------------------------

_REGISTRY: dict[str, type[Layer]] = {}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Allow a layer class in saved files, under its class name; usable as a decorator.

    The class must rebuild itself from ``cls.from_config(layer.get_config())``; its parameters are
    saved like any other. Loading constructs only registered classes, so a file can name a class
    but never supply one. handgrad's own layers register themselves where they are defined.

    A class defined again where it was (the same module and qualified name: a notebook cell run
    twice) replaces the earlier one; a different class of the same name is refused.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer needs a Layer subclass, got {describe(cls)}")
    known = _REGISTRY.get(cls.__name__)
    redefined = known is not None and (known.__module__, known.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if known is not None and known is not cls and not redefined:
        raise ValueError(
            f"another layer class named {cls.__name__!r} is already registered "
            f"({known.__module__}.{known.__qualname__})"
        )
    _REGISTRY[cls.__name__] = cls
    return cls


def layer_class(name: str) -> type[Layer] | None:
    """The registered layer class of that name, or ``None``."""
    return _REGISTRY.get(name)


def layer_types() -> list[str]:
    """The names of every registered layer class, sorted."""
    return sorted(_REGISTRY)


def activations() -> dict[str, type[Layer]]:
    """``activation_name → class`` for every registered class that declares one."""
    return {c.activation_name: c for c in _REGISTRY.values() if c.activation_name is not None}
