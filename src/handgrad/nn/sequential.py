"""``Sequential``: layers applied one after another, and back-propagated in reverse."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _html
from .._threads import DEFAULT_THREADS, blas_threads, check_threads
from .._validation import as_batch, as_row_data, check_int, describe
from .layer import Layer, check_rows, chunk_rows, register_layer


@register_layer
class Sequential(Layer):
    """A network that feeds each layer's output to the next.

    ``forward`` runs ``A⁽ˡ⁾ = layerₗ(A⁽ˡ⁻¹⁾)`` from ``A⁽⁰⁾ = x``; ``backward`` runs the chain rule
    the other way, ``dL/dA⁽ˡ⁻¹⁾ = layerₗ.backward(dL/dA⁽ˡ⁾)``, leaving each parameter's gradient
    in its ``.grad``. Inputs are ``(batch, …)``: rows of features, or images channels last. A
    Sequential is itself a layer, so networks nest.

    ``model(x)`` checks ``x`` (numbers, finite) before the forward pass; ``model.forward(x)`` is
    the layer contract alone, for data already checked (``fit`` and ``predict`` check theirs once).

    Each layer object, and each ``Parameter``, may appear once in a network: weights cannot be
    tied by putting one layer in two places. A layer keeps what its last ``forward`` saw for its
    ``backward``, and ``backward`` overwrites each ``.grad``, so a layer used twice would
    back-propagate its second use's input through both and keep one use's gradient; the
    constructor refuses it rather than train on gradients that are silently wrong.

    Layers that can run as one pass do (a layer's ``fuses_after``: ``MaxPool2D`` right after
    ``ReLU`` pools first and applies ReLU to the pooled values only; after ``Conv2D``, ``ReLU``
    it also takes the convolution's outputs in the order of the pool's windows), unless a method
    of one of them is replaced on the instance, as a trace watching each layer does: the result
    and the gradients are those of the layers one after the other.
    """

    _transient = ("_plan",)

    def __init__(self, layers: Iterable[Layer]):
        try:
            layers = list(layers)
        except TypeError as exc:
            raise TypeError(
                f"layers must be a list of Layer objects, got {describe(layers)}"
            ) from exc
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"layers[{i}] must be a Layer (e.g. hg.Dense, hg.ReLU), got {describe(layer)}"
                )
        self.layers = layers
        _refuse_shared(self)
        #: JSON-serialisable facts kept with the model in its file (e.g. class names).
        self.metadata: dict[str, Any] = {}
        dtypes = {str(p.data.dtype) for p in self.parameters()}
        if len(dtypes) > 1:
            raise ValueError(
                f"all layers must share one dtype, got {sorted(dtypes)}; build every Dense with "
                "the same dtype="
            )

    # The layer contract ------------------------------------------------------------------------

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The network's output for a batch ``x`` of shape ``(batch, …)``, checked."""
        return self.forward(as_batch(x, "x"))

    def _units(self) -> list[tuple[Layer, tuple[Layer, ...]]]:
        """The passes of a forward: ``(layer, ())``, or ``(layer, previous)`` for a chain of
        layers run as one pass, ``layer`` the last of it (see the class docstring)."""
        units: list[tuple[Layer, tuple[Layer, ...]]] = []
        layers = self.layers
        i = 0
        while i < len(layers):
            for width in (2, 1):
                j = i + width
                if j >= len(layers):
                    continue
                chain, after = tuple(layers[i:j]), layers[j]
                if after.fuses_after(chain) == width and not any(map(_watched, (*chain, after))):
                    units.append((after, chain))
                    i = j + 1
                    break
            else:
                units.append((layers[i], ()))
                i += 1
        return units

    def forward(self, x: np.ndarray) -> np.ndarray:
        units = self._plan = self._units()
        for layer, previous in units:
            x = layer.forward_fused(previous, x) if previous else layer.forward(x)
        return x

    def _last_units(self) -> list[tuple[Layer, tuple[Layer, ...]]]:
        units = self.__dict__.get("_plan")
        return self._units() if units is None else units

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dL/dx from dL/d(output); every parameter's ``.grad`` is filled on the way."""
        grad = grad_out
        for layer, previous in reversed(self._last_units()):
            grad = layer.backward_fused(previous, grad) if previous else layer.backward(grad)
        return grad

    def backward_params(self, grad_out: np.ndarray) -> None:
        """Like ``backward`` but stops at the first layer that has parameters, computing no dL/dx
        for it: no one needs the gradient with respect to the data. For a dense first layer this
        skips its largest matrix product."""
        units = self._last_units()
        first = next(
            (
                i
                for i, (layer, previous) in enumerate(units)
                if layer.parameters() or any(p.parameters() for p in previous)
            ),
            None,
        )
        if first is None:
            return
        grad = grad_out
        for layer, previous in units[:first:-1]:
            grad = layer.backward_fused(previous, grad) if previous else layer.backward(grad)
        layer, previous = units[first]
        if previous:
            layer.backward_fused(previous, grad, input_grad=False)
        else:
            layer.backward_params(grad)

    def sublayers(self) -> list[tuple[str, Layer]]:
        """``("<index>", layer)`` for each layer: parameters are named ``"0.weight"``."""
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def leaves(self) -> list[tuple[str, Layer]]:
        """Every layer that is not a Sequential, in order, as ``(path, layer)``: nested networks
        are opened up, and the path is the one ``named_parameters`` uses (``"1.0"``)."""
        out: list[tuple[str, Layer]] = []
        for i, layer in enumerate(self.layers):
            out += [(f"{i}.{path}" if path else str(i), leaf) for path, leaf in layer.leaves()]
        return out

    def input_shape(self) -> tuple[int | None, ...] | None:
        """The shape of one row of input, from the first layer that fixes it (``Dense`` its
        features, ``Conv2D`` its channels), unless a layer with weights or one that changes the
        shape (``Flatten``, ``Reshape``, a pool) comes before it and does not say."""
        for layer in self.layers:
            shape = layer.input_shape()
            if shape is not None:
                return shape
            if layer.parameters() or layer.changes_shape:
                return None
        return None

    def largest_activation(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        largest = x.size
        for layer in self.layers:
            x, n = layer.largest_activation(x)
            largest = max(largest, n)
        return x, largest

    def to_onnx(self, graph, path: str, x: str) -> str:
        """Each layer's nodes in turn: a nested Sequential is flattened."""
        for i, layer in enumerate(self.layers):
            x = graph.layer(layer, f"{path}.{i}" if path else str(i), x)
        return x

    # Container ---------------------------------------------------------------------------------

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def get_config(self) -> dict[str, Any]:
        return {"layers": list(self.layers)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        return cls(config["layers"])

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)" if self.layers else "Sequential()"

    def _layer_rows(self) -> list[tuple[str, str, str]]:
        return [
            (path, repr(layer), f"{sum(p.data.size for p in layer.parameters()):,}")
            for path, layer in self._summary_rows()
        ]

    def _repr_html_(self) -> str:
        """The layers and their parameter counts, for a notebook."""
        rows = self._layer_rows()
        total = sum(p.data.size for p in self.parameters())
        body = (
            f'<p class="hg-title">Sequential, {len(rows)} layers, {total:,} parameters</p>'
            + _html.table(("#", "layer", "parameters"), rows, numeric=(2,))
        )
        return _html.fragment("hg-sequential", body)

    def _repr_markdown_(self) -> str:
        total = sum(p.data.size for p in self.parameters())
        head = f"**Sequential**, {len(self.layers)} layers, {total:,} parameters"
        return head + "\n\n" + _html.md_table(("#", "layer", "parameters"), self._layer_rows())

    # Training and inference --------------------------------------------------------------------

    # The three conveniences that reach up to a higher floor, by the one import each makes when
    # called (the architecture page says why): training and model files take any Layer and never
    # import this module, so no import circle closes.

    def fit(self, X, y, **kwargs) -> Any:
        """Train the network and return its ``History``; see :func:`handgrad.fit`."""
        from ..train.loop import fit

        return fit(self, X, y, **kwargs)

    def evaluate(self, X, y, **kwargs) -> dict[str, float]:
        """Loss and metrics on ``(X, y)``; see :func:`handgrad.evaluate`."""
        from ..train.loop import evaluate

        return evaluate(self, X, y, **kwargs)

    def save(self, path, *, metadata=None) -> None:
        """Write architecture and weights to ``path`` (safetensors); see :func:`handgrad.save`."""
        from ..saving.model_files import save

        save(self, path, metadata=metadata)

    def summary(self, input_shape: int | tuple[int, ...] | None = None) -> ModelSummary:
        """A table of the layers, their output shapes and parameter counts, and the total.

        The output shapes come from one row of zeros run through the network in evaluation mode;
        ``input_shape`` (the shape of one row, or its number of features) is needed only when no
        layer says what it takes (``Reshape`` first, or a ``Conv2D``: ``input_shape=(28, 28, 1)``).
        """
        shape = _row_shape(self, input_shape, "summary()")
        rows = []
        with self.mode(training=False):
            x = np.zeros((1, *shape), dtype=self.dtype)
            for path, layer in self._summary_rows():
                x = layer.forward(x)
                count = sum(p.data.size for p in layer.parameters())
                rows.append((path, repr(layer), ("batch", *x.shape[1:]), count))
        self.release()
        return ModelSummary(tuple(rows), shape, str(self.dtype))

    def _summary_rows(self) -> list[tuple[str, Layer]]:
        """The layers the summary lists, each run on the previous one's output: the leaves, with
        a block that is a leaf and a container (``Residual``) shown as one row."""
        out: list[tuple[str, Layer]] = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Sequential):
                out += [(f"{i}.{path}", leaf) for path, leaf in layer._summary_rows()]
            else:
                out.append((str(i), layer))
        return out

    def predict(
        self, X, batch_size: int | None = None, *, threads: int | None = DEFAULT_THREADS
    ) -> np.ndarray:
        """The network's output for every row of ``X`` (``(n, …)``, batch first), in evaluation
        mode, in chunks of rows. For a classifier these are the logits: ``argmax(axis=1)`` gives
        the classes.

        ``batch_size`` (rows per chunk) defaults to as many as keep every array of the
        computation within 16 MB (at most 4096), so memory does not grow with the rows of ``X``.
        ``threads``: the BLAS threads of its products, one by default (see :func:`handgrad.fit`).
        """
        threads = check_threads(threads)
        X = as_row_data(X, "X")
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", minimum=1)
        if len(X) == 0:
            raise ValueError("X is empty: predict needs at least one row")
        check_rows(self, X.shape, "X")
        try:
            with (
                self.mode(training=False),
                np.errstate(over="raise", invalid="raise", divide="raise"),
                blas_threads(threads),
            ):
                if batch_size is None:
                    if len(X) == 1:  # the row that sizes the chunks is the whole input
                        out, _ = self.largest_activation(np.asarray(X[:1]))
                        return out
                    batch_size = chunk_rows(self, np.asarray(X[:1]))
                if len(X) <= batch_size:
                    return self.forward(np.asarray(X[:]))
                first = self.forward(np.asarray(X[:batch_size]))
                out = np.empty((len(X), *first.shape[1:]), dtype=first.dtype)
                out[:batch_size] = first
                for start in range(batch_size, len(X), batch_size):
                    out[start : start + batch_size] = self.forward(
                        np.asarray(X[start : start + batch_size])
                    )
                return out
        except FloatingPointError as exc:
            raise ValueError(
                f"X is out of range for this network: computing its outputs gave {exc} "
                f"(its values must stay well within the range of {self.dtype})"
            ) from None
        finally:
            self.release()  # keep no reference to X (the layers cached its rows for backward)


def _refuse_shared(model: Sequential) -> None:
    """Refuse a layer object in two places of ``model``, or one Parameter in two layers."""
    seen: dict[int, str] = {}
    for path, layer in _every_layer(model, ""):
        if id(layer) in seen:
            name = f"a Sequential of {len(layer)} layers" if layer.sublayers() else repr(layer)
            raise ValueError(
                f"layers: {name} appears twice in the network, at {seen[id(layer)]} and "
                f"{path}: a layer caches its last forward's input for backward, so one object in "
                "two places gives wrong gradients; give each place its own layer (handgrad does "
                "not tie weights)"
            )
        seen[id(layer)] = path
    owners: dict[int, str] = {}
    for name, p in model.named_parameters():
        if id(p) in owners:
            raise ValueError(
                f"layers: the parameters {owners[id(p)]} and {name} are one Parameter object: "
                "backward overwrites each .grad, so a shared Parameter gets one layer's gradient "
                "instead of their sum; give each layer its own (handgrad does not tie weights)"
            )
        owners[id(p)] = name


def _every_layer(layer: Layer, path: str):
    """``(position, layer)`` for ``layer``'s sublayers and theirs, containers included."""
    for name, sub in layer.sublayers():
        where = f"{path}.{name}" if path else name
        yield f"layers[{where.replace('.', '][')}]", sub
        yield from _every_layer(sub, where)


def _row_shape(model: Layer, given, what: str) -> tuple[int, ...]:
    """The shape of one row: ``given`` (an int or a tuple), or what the model's layers say."""
    if given is None:
        shape = model.input_shape()
        if shape is None or any(d is None for d in shape):
            known = "" if shape is None else f" (its first layer takes rows {_shape_text(shape)})"
            raise ValueError(
                f"{what} cannot tell the shape of one row of input from the layers{known}; pass "
                "input_shape=, e.g. input_shape=784 or input_shape=(28, 28, 1)"
            )
        return tuple(int(d) for d in shape)
    if isinstance(given, (tuple, list)):
        if not given:
            raise ValueError(f"input_shape must not be empty, got {given!r}")
        return tuple(check_int(d, "input_shape", minimum=1) for d in given)
    return (check_int(given, "input_shape", minimum=1),)


def _shape_text(shape) -> str:
    return "(" + ", ".join("any" if d is None else str(d) for d in shape) + ")"


def _watched(layer: Layer) -> bool:
    """Whether the instance replaces its forward or backward (a trace watching it)."""
    d = layer.__dict__
    return "forward" in d or "backward" in d


@dataclass(frozen=True)
class ModelSummary:
    """What ``Sequential.summary()`` returns; prints as a table."""

    rows: tuple[tuple[str, str, tuple, int], ...]
    input_shape: tuple[int, ...]
    dtype: str

    @property
    def total_params(self) -> int:
        return sum(row[3] for row in self.rows)

    def __str__(self) -> str:
        table = [("#", "layer", "output shape", "parameters")]
        table += [
            (i, name, str(shape).replace("'", ""), f"{n:,}") for i, name, shape, n in self.rows
        ]
        widths = [max(len(r[c]) for r in table) for c in range(4)]

        def line(r):
            return "  ".join(
                r[c].rjust(widths[c]) if c == 3 else r[c].ljust(widths[c]) for c in range(4)
            )

        rule = "-" * len(line(table[0]))
        shape = ", ".join(str(d) for d in self.input_shape)
        out = [f"input: (batch, {shape}), {self.dtype}", line(table[0]), rule]
        out += [line(r) for r in table[1:]]
        out += [rule, f"total parameters: {self.total_params:,}"]
        return "\n".join(out)

    __repr__ = __str__

    def _cells(self) -> list[tuple[str, str, str, str]]:
        return [(i, name, str(shape).replace("'", ""), f"{n:,}") for i, name, shape, n in self.rows]

    def _repr_html_(self) -> str:
        """The table for a notebook."""
        shape = ", ".join(str(d) for d in self.input_shape)
        body = (
            f'<p class="hg-title">input: (batch, {_html.esc(shape)}), {_html.esc(self.dtype)}</p>'
            + _html.table(("#", "layer", "output shape", "parameters"), self._cells(), (3,))
            + f'<p class="hg-note">total parameters: {self.total_params:,}</p>'
        )
        return _html.fragment("hg-summary", body)

    def _repr_markdown_(self) -> str:
        shape = ", ".join(str(d) for d in self.input_shape)
        table = _html.md_table(("#", "layer", "output shape", "parameters"), self._cells())
        return (
            f"input: (batch, {shape}), {self.dtype}\n\n{table}\n\n"
            f"total parameters: {self.total_params:,}"
        )
