"""``Sequential``: layers applied one after another, and back-propagated in reverse."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_input_array, as_row_data, check_int, describe
from .layer import Layer, register_layer


@register_layer
class Sequential(Layer):
    """A network that feeds each layer's output to the next.

    ``forward`` runs ``A⁽ˡ⁾ = layerₗ(A⁽ˡ⁻¹⁾)`` from ``A⁽⁰⁾ = x``; ``backward`` runs the chain rule
    the other way, ``dL/dA⁽ˡ⁻¹⁾ = layerₗ.backward(dL/dA⁽ˡ⁾)``, leaving each parameter's gradient
    in its ``.grad``. Inputs are ``(batch, features)``. A Sequential is itself a layer, so networks
    nest.

    ``model(x)`` checks ``x`` (numbers, finite) before the forward pass; ``model.forward(x)`` is
    the layer contract alone, for data already checked (``fit`` and ``predict`` check theirs once).

    Each layer object, and each ``Parameter``, may appear once in a network: weights cannot be
    tied by putting one layer in two places. A layer keeps what its last ``forward`` saw for its
    ``backward``, and ``backward`` overwrites each ``.grad``, so a layer used twice would
    back-propagate its second use's input through both and keep one use's gradient; the
    constructor refuses it rather than train on gradients that are silently wrong.
    """

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
        """The network's output for a batch ``x`` of shape ``(batch, features)``, checked."""
        return self.forward(as_input_array(x, "x", ndim=2))

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dL/dx from dL/d(output); every parameter's ``.grad`` is filled on the way."""
        grad = grad_out
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def backward_params(self, grad_out: np.ndarray) -> None:
        """Like ``backward`` but stops at the first layer that has parameters, computing no dL/dx
        for it: no one needs the gradient with respect to the data. For a dense first layer this
        skips its largest matrix product."""
        layers = self.layers
        first = next((i for i, layer in enumerate(layers) if layer.parameters()), None)
        if first is None:
            return
        grad = grad_out
        for layer in layers[:first:-1]:
            grad = layer.backward(grad)
        layers[first].backward_params(grad)

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

    def input_features(self) -> int | None:
        """The first layer's number of input features, from the first layer that says, unless a
        layer with weights that does not say comes before it."""
        for layer in self.layers:
            n_in = layer.input_features()
            if n_in is not None:
                return n_in
            if layer.parameters():
                return None
        return None

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

    def summary(self, input_features: int | None = None) -> ModelSummary:
        """A table of the layers, their output shapes and parameter counts, and the total.

        The output shapes come from one row of zeros run through the network in evaluation mode;
        ``input_features`` is needed only when no layer says how many inputs it takes.
        """
        if input_features is None:
            input_features = self.input_features()
            if input_features is None:
                raise ValueError(
                    "summary() cannot tell the number of input features from the layers; "
                    "pass input_features="
                )
        input_features = check_int(input_features, "input_features", minimum=1)
        rows = []
        with self.mode(training=False):
            x = np.zeros((1, input_features), dtype=self.dtype)
            for path, layer in self.leaves():
                x = layer.forward(x)
                count = sum(p.data.size for p in layer.parameters())
                rows.append((path, repr(layer), ("batch", *x.shape[1:]), count))
        self.release()
        return ModelSummary(tuple(rows), input_features, str(self.dtype))

    def predict(self, X, batch_size: int = 4096) -> np.ndarray:
        """The network's output for every row of ``X``, in evaluation mode, ``batch_size`` rows at
        a time. For a classifier these are the logits: ``argmax(axis=1)`` gives the classes."""
        X = as_row_data(X, "X")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        if len(X) == 0:
            raise ValueError("X is empty: predict needs at least one row")
        try:
            with (
                self.mode(training=False),
                np.errstate(over="raise", invalid="raise", divide="raise"),
            ):
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


@dataclass(frozen=True)
class ModelSummary:
    """What ``Sequential.summary()`` returns; prints as a table."""

    rows: tuple[tuple[str, str, tuple, int], ...]
    input_features: int
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
        out = [f"input: (batch, {self.input_features}), {self.dtype}", line(table[0]), rule]
        out += [line(r) for r in table[1:]]
        out += [rule, f"total parameters: {self.total_params:,}"]
        return "\n".join(out)

    __repr__ = __str__
