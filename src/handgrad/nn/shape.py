"""Layers that change only the shape of each row: ``Flatten`` and ``Reshape``.

Both keep the values and their row-major order; neither copies (the output is a view of the
input, as ``np.reshape`` gives, and the gradient a view of the gradient).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._validation import as_numeric_array, describe
from .layer import Formula, Layer, Worked, index_text, number, register_layer

__all__ = ["Flatten", "Reshape"]


def _batch(layer: Layer, x) -> np.ndarray:
    if not (type(x) is np.ndarray and x.dtype.kind == "f"):
        x = as_numeric_array(x, f"{layer!r} input")
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
    if x.ndim < 2:
        raise ValueError(f"{layer!r} expected a batch (batch, …), got shape {x.shape}")
    return x


def _reshaped_back(layer: Layer, grad_out, shape: tuple[int, ...], out_shape, dtype):
    grad = layer._check_grad_out(grad_out, out_shape, dtype)
    return grad.reshape(shape)


def _worked(
    x: np.ndarray,
    out_row: tuple[int, ...],
    index: tuple[int, ...],
    names: tuple[str, str, str] = ("{y}", "{x}", "input"),
) -> Worked:
    """Where an element of the result (rows of shape ``out_row``) came from: the same place in
    the row of ``x``, row-major. ``names``: the result's symbol, the source's, and its value's
    name (the output from the input, or the input's gradient from the output's)."""
    result, symbol, value_name = names
    n, rest = int(index[0]), index[1:]
    flat = int(np.ravel_multi_index(rest, out_row)) if rest else 0
    source = (n, *(int(i) for i in np.unravel_index(flat, x.shape[1:])))
    return Worked(
        index=tuple(int(i) for i in index),
        lines=(
            f"{result}{index_text(index)} = {symbol}{index_text(source)} (value {flat} of the "
            "row, row-major)",
            f"= {number(x[source])}",
        ),
        value=float(x[source]),
        cells=((value_name, source),),
    )


def _worked_back(values, index: tuple[int, ...]) -> Worked:
    """The input gradient's element: the output gradient's at the same place in the row."""
    dy = values["grad_out"]
    row = values["input"].shape[1:]
    return _worked(dy, row, index, ("{dx}", "{dy}", "grad_out"))


@register_layer
class Flatten(Layer):
    """``(batch, d1, d2, …)`` → ``(batch, d1·d2·…)``, row-major: a channels-last image's features
    come in the order ``(h, w, c)``.

    Backward: ``dX = dY`` reshaped back to the input's shape, ``(batch, d1, d2, …)``; nothing is
    computed, each value keeps its place.
    """

    _transient = ("_cache",)
    trace_letter = "A"
    changes_shape = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _batch(self, x)
        self._cache = (x.shape, x.dtype)
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        shape, dtype = self._cached("_cache")
        return _reshaped_back(self, grad_out, shape, (shape[0], math.prod(shape[1:])), dtype)

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        return (
            Formula(
                "forward",
                "output",
                "{y}[n, :] = the values of {x}[n, …] in row-major order",
                "Flatten: each sample's values in one row, last axis fastest",
                ("input",),
                lambda values, index: _worked(
                    values["input"], (math.prod(values["input"].shape[1:]),), index
                ),
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx} = {dy} reshaped back to the shape of {x}",
                "Loss w.r.t. the input: each gradient goes back to the place its value came from",
                ("grad_out", "input"),
                _worked_back,
            ),
        )

    def to_onnx(self, graph, path: str, x: str) -> str:
        """``Flatten(axis=1)``: on a channels-last tensor it gives handgrad's ``(h, w, c)``
        order, so the Dense after it needs no permutation."""
        return graph.node("Flatten", [x], f"{path}.flatten", axis=1)


@register_layer
class Reshape(Layer):
    """Each row reshaped to ``shape``, e.g. ``Reshape((28, 28, 1))``: ``(batch, 784)`` →
    ``(batch, 28, 28, 1)``, so flat data feed a convolution. One entry of ``shape`` may be ``-1``
    (inferred). Rows of any shape with as many values are taken, in row-major order.

    Backward: ``dX = dY`` reshaped back to the input's shape.
    """

    _transient = ("_cache",)
    trace_letter = "A"
    changes_shape = True

    def __init__(self, shape: tuple[int, ...]):
        if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not shape:
            raise TypeError(
                f"shape must be a tuple of ints, e.g. (28, 28, 1), got {describe(shape)}"
            )
        dims = []
        for d in shape:
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
                raise TypeError(f"shape must be a tuple of ints, e.g. (28, 28, 1), got {shape!r}")
            if d == 0 or d < -1:
                raise ValueError(
                    f"shape must hold positive sizes (and at most one -1), got {shape!r}"
                )
            dims.append(int(d))
        if dims.count(-1) > 1:
            raise ValueError(f"shape may hold one -1 (a size inferred), got {shape!r}")
        self.shape = tuple(dims)
        self._cache = None

    def _row_size(self) -> int | None:
        return None if -1 in self.shape else math.prod(self.shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _batch(self, x)
        n = x.shape[0]
        per_row = math.prod(x.shape[1:])
        known = math.prod(d for d in self.shape if d != -1)
        size = self._row_size()
        if (size is not None and per_row != size) or (size is None and per_row % known):
            want = f"{size} values" if size is not None else f"a multiple of {known} values"
            raise ValueError(
                f"{self!r} expected rows of {want}, got shape {x.shape} ({per_row} a row)"
            )
        self._cache = (x.shape, x.dtype)
        return x.reshape(n, *self._row_shape(x.shape))

    def _row_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of an output row for an input of ``shape`` (the -1 worked out)."""
        known = math.prod(d for d in self.shape if d != -1)
        return tuple(d if d != -1 else math.prod(shape[1:]) // known for d in self.shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        shape, dtype = self._cached("_cache")
        return _reshaped_back(self, grad_out, shape, (shape[0], *self._row_shape(shape)), dtype)

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Reshape:
        shape = config.get("shape")
        if not isinstance(shape, list):
            raise ValueError(f"a Reshape needs its shape as a list of ints, got {shape!r}")
        return cls(tuple(shape))

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        return f"Reshape({tuple(config.get('shape') or ())})"

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        return (
            Formula(
                "forward",
                "output",
                f"{{y}}[n] = {{x}}[n] reshaped to {self.shape}, values in row-major order",
                f"Reshape: each sample's values laid out as {self.shape}, nothing computed",
                ("input",),
                lambda values, index: _worked(
                    values["input"], self._row_shape(values["input"].shape), index
                ),
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx} = {dy} reshaped back to the shape of {x}",
                "Loss w.r.t. the input: each gradient goes back to the place its value came from",
                ("grad_out", "input"),
                _worked_back,
            ),
        )

    def to_onnx(self, graph, path: str, x: str) -> str:
        """``Reshape`` to ``(0, *shape)``: the 0 keeps the batch size."""
        return graph.node(
            "Reshape", [x, graph.int64(f"{path}.shape", [0, *self.shape])], f"{path}.reshape"
        )
