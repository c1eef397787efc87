"""The dense (fully connected) layer, ``Z = X · W + b``."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from .._validation import as_numeric_array, check_float_dtype, check_int, make_rng
from .initializers import Initializer, get_initializer
from .layer import Formula, Layer, Worked, index_text, number, register_layer, sum_of_products
from .parameter import Parameter


def _memory_needed(n_in: int, n_out: int, dtype: np.dtype) -> int:
    """Bytes of the weights and biases and their gradients, plus the initialiser's float64 draw."""
    return 2 * (n_in + 1) * n_out * dtype.itemsize + n_in * n_out * 8


def _physical_memory() -> int | None:
    """The machine's memory in bytes, where the system says it."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


@register_layer
class Dense(Layer):
    """Fully connected layer: ``Z = X · W + b``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output features.
    init : str or callable
        Weight initialiser (see :mod:`handgrad.nn.initializers`); the bias starts at zero.
    rng : np.random.Generator, int or None
        Source of the initial weights.
    dtype : np.float32 or np.float64
        The dtype of the weights, and of everything the layer computes.

    Shapes: ``X (batch, n_in)``, ``W = weight (n_in, n_out)``, ``b = bias (n_out,)``,
    ``Z (batch, n_out)``. A row of inputs times ``W`` is the layer, as in ``x.T @ W``.

    Backward, with ``dZ = dL/dZ`` of shape ``(batch, n_out)``::

        dW = Xᵀ · dZ        (n_in, n_out)   "loss w.r.t. weight"
        db = 1ᵀ · dZ        (n_out,)        the column sums of dZ
        dX = dZ · Wᵀ        (batch, n_in)   "loss w.r.t. the layer's input"
    """

    _transient = ("_x",)
    trace_letter = "Z"
    trace_symbols: ClassVar[dict[str, str]] = {"weight": "W", "bias": "b"}

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        init: str | Initializer = "he",
        rng: np.random.Generator | int | None = None,
        dtype=np.float64,
    ):
        self.n_in = check_int(n_in, "n_in", minimum=1)
        self.n_out = check_int(n_out, "n_out", minimum=1)
        dt = check_float_dtype(dtype)
        initializer = get_initializer(init)
        need = _memory_needed(self.n_in, self.n_out, dt)
        total = _physical_memory()
        if total is not None and need > total:
            raise MemoryError(self._too_big(need, f"this machine has {_size(total)} in all"))
        try:
            initial = np.asarray(initializer((self.n_in, self.n_out), make_rng(rng)))
            if initial.shape != (self.n_in, self.n_out):
                raise ValueError(
                    f"init returned shape {initial.shape}, expected {(self.n_in, self.n_out)}"
                )
            self.weight = Parameter(initial, dtype=dt)
            self.bias = Parameter(np.zeros(self.n_out), dtype=dt)
        except MemoryError:
            raise MemoryError(self._too_big(need, "not that much memory is free")) from None
        self._x: np.ndarray | None = None

    def _too_big(self, need: int, why: str) -> str:
        return (
            f"Dense({self.n_in}→{self.n_out}) needs {_size(need)} for its weights, their "
            f"gradients and the initial draw ({self.n_in:,} × {self.n_out:,} weights), and {why}"
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        W = self.weight.data
        if not (
            type(x) is np.ndarray and x.dtype == W.dtype and x.ndim == 2 and x.shape[1] == self.n_in
        ):
            x = self._input(x, W.dtype)
        z = np.dot(x, W)
        z += self.bias.data
        self._x = x
        return z

    def _input(self, x, dtype) -> np.ndarray:
        x = as_numeric_array(x, f"{self!r} input")
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(
                f"{self!r} expected {self.n_in} input features, i.e. shape (batch, {self.n_in}), "
                f"got shape {x.shape}"
            )
        return x.astype(dtype, copy=False)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dZ = self._param_grads(grad_out)
        return np.dot(dZ, self.weight.data.T)  # dX = dZ · Wᵀ

    def backward_params(self, grad_out: np.ndarray) -> None:
        self._param_grads(grad_out)

    def _param_grads(self, grad_out: np.ndarray) -> np.ndarray:
        x = self._cached("_x")
        n = x.shape[0]
        dZ = self._check_grad_out(grad_out, (n, self.n_out), x.dtype)
        # np.dot, not np.matmul: with out= and a batch of 1, matmul skips BLAS and is ~7x slower.
        np.dot(x.T, dZ, out=self.weight.grad)  # dW = Xᵀ · dZ
        # A matrix-vector product with a ones vector is ~3x faster than dZ.sum(axis=0).
        ones = self._scratch("ones", (n,), x.dtype, fill=1)
        np.dot(ones, dZ, out=self.bias.grad)  # db = 1ᵀ · dZ
        return dZ

    def input_shape(self) -> tuple[int]:
        return (self.n_in,)

    def get_config(self) -> dict[str, Any]:
        return {"n_in": self.n_in, "n_out": self.n_out, "dtype": str(self.weight.data.dtype)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dense:
        return cls(**config, init="zeros")  # the weights are about to be overwritten

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        n_in, n_out = config.get("n_in"), config.get("n_out")
        if not (type(n_in) is int and type(n_out) is int and n_in > 0 and n_out > 0):
            raise ValueError("a Dense needs positive integer n_in and n_out")
        return (n_in + 1) * n_out

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        return (
            Formula(
                "forward",
                "output",
                "{y} = {x} · {weight} + {bias}",
                "Pre-activation neuron output (Z): the inputs times the weights, plus the bias",
                ("input", "weight", "bias"),
                _worked_output,
            ),
            Formula(
                "backward",
                "weight",
                "dL/d{weight} = {x}ᵀ · {dy}",
                "Loss w.r.t. weight: each input times the gradient of each neuron it feeds",
                ("input", "grad_out"),
                _worked_weight_grad,
            ),
            Formula(
                "backward",
                "bias",
                "dL/d{bias} = Σ_samples {dy}",
                "Loss w.r.t. bias: the gradient of each neuron, summed over the samples",
                ("grad_out",),
                _worked_bias_grad,
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx} = {dy} · {weight}ᵀ",
                None,
                ("grad_out", "weight"),
                _worked_input_grad,
            ),
        )

    def to_onnx(self, graph, path: str, x: str) -> str:
        """``Gemm(x, W, b)``, W stored as handgrad holds it, ``(n_in, n_out)``: no transpose."""
        weight = graph.tensor(f"{path}.weight", self.weight.data)
        bias = graph.tensor(f"{path}.bias", self.bias.data)
        return graph.node("Gemm", [x, weight, bias], f"{path}.gemm", transA=0, transB=0)

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        return f"Dense({config['n_in']}→{config['n_out']})"


def _worked_output(values, index: tuple[int, ...]) -> Worked:
    """``Z[i, j] = Σ_k X[i, k] · W[k, j] + b[j]``: row i of the input times column j."""
    x, W, b = values["input"], values["weight"], values["bias"]
    i, j = index
    dot = float(np.dot(x[i].astype(np.float64), W[:, j].astype(np.float64)))
    value = dot + float(b[j])
    return Worked(
        index=index,
        lines=(
            f"{{y}}{index_text(index)} = Σ_k {{x}}[{i}, k] · {{weight}}[k, {j}] + {{bias}}[{j}]",
            f"= {sum_of_products(x[i], W[:, j])} + {number(b[j])}",
            f"= {number(dot)} + {number(b[j])} = {number(value)}",
        ),
        value=value,
        cells=(("input", (i, slice(None))), ("weight", (slice(None), j)), ("bias", (j,))),
    )


def _sum_lines(head: str, a: np.ndarray, b: np.ndarray) -> tuple[tuple[str, ...], float]:
    """``head = a₀·b₀ + a₁·b₁ + … = total`` in one line, or two when the sum is long."""
    total = float(np.dot(a.astype(np.float64), b.astype(np.float64)))
    products = sum_of_products(a, b)
    if len(a) == 1:
        return (f"{head} = {products} = {number(total)}",), total
    return (head, f"= {products}", f"= {number(total)}"), total


def _worked_weight_grad(values, index: tuple[int, ...]) -> Worked:
    """``dW[k, j] = Σ_i X[i, k] · dZ[i, j]``: input k times neuron j's gradient, over samples."""
    x, dZ = values["input"], values["grad_out"]
    k, j = index
    lines, total = _sum_lines(
        f"dL/d{{weight}}{index_text(index)} = Σ_i {{x}}[i, {k}] · {{dy}}[i, {j}]", x[:, k], dZ[:, j]
    )
    return Worked(
        index=index,
        lines=lines,
        value=total,
        cells=(("input", (slice(None), k)), ("grad_out", (slice(None), j))),
    )


def _worked_bias_grad(values, index: tuple[int, ...]) -> Worked:
    """``db[j] = Σ_i dZ[i, j]``."""
    dZ = values["grad_out"]
    (j,) = index
    column = dZ[:, j].astype(np.float64)
    total = float(column.sum())
    terms = " + ".join(number(v) for v in column[:6]) + (" + …" if len(column) > 6 else "")
    sums = f" = {terms}" if len(column) > 1 else ""
    return Worked(
        index=index,
        lines=(f"dL/d{{bias}}[{j}] = Σ_i {{dy}}[i, {j}]{sums} = {number(total)}",),
        value=total,
        cells=(("grad_out", (slice(None), j)),),
    )


def _worked_input_grad(values, index: tuple[int, ...]) -> Worked:
    """``dX[i, k] = Σ_j dZ[i, j] · W[k, j]``: what input k of sample i fed, back from every
    neuron."""
    dZ, W = values["grad_out"], values["weight"]
    i, k = index
    lines, total = _sum_lines(
        f"{{dx}}{index_text(index)} = Σ_j {{dy}}[{i}, j] · {{weight}}[{k}, j]", dZ[i], W[k]
    )
    return Worked(
        index=index,
        lines=lines,
        value=total,
        cells=(("grad_out", (i, slice(None))), ("weight", (k, slice(None)))),
    )
