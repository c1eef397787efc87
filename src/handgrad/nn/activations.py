"""Activation layers: an elementwise (or, for Softmax, row-wise) function ``A = f(Z)``.

Backward is the chain rule ``dL/dZ = dL/dA ⊙ f′(Z)``, the notebook's
"loss w.r.t. pre-activation neuron output". Each layer keeps what f′ needs from its forward.
All are finite and warning-free for inputs of any finite size (±1000 included), in float32 and
float64, and return arrays of the input's dtype. Each class also carries its formulas for the
trace and its ONNX form; GELU, whose ONNX form in double precision is long, has its own file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_numeric_array, check_real
from .layer import Formula, Layer, Worked, index_text, number, pointwise, register_layer

_BOOL = np.dtype(np.bool_)
#: The words of every activation's backward formula start so, as the notebook says it.
Z_WORDS = "Loss w.r.t. pre-activation neuron output (Z)"

__all__ = ["Identity", "LeakyReLU", "ReLU", "SiLU", "Sigmoid", "Softmax", "Tanh"]


class Activation(Layer):
    """Base class for parameter-free activation layers."""

    _transient = ("_x", "_a", "_cache")
    trace_letter = "A"

    def _input(self, x) -> np.ndarray:
        x = as_numeric_array(x, f"{self!r} input")
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        return x

    def _grad(self, grad_out, like: np.ndarray) -> np.ndarray:
        return self._check_grad_out(grad_out, like.shape, like.dtype)


def activation_formulas(
    forward: str,
    forward_words: str,
    backward: str,
    backward_words: str,
    uses,
    forward_element=None,
    backward_element=None,
):
    """An activation's two formulas: ``A = f(Z)`` and ``dL/dZ = dL/dA ⊙ f′(Z)``, each with the
    rule that works one element out (see :func:`~handgrad.nn.layer.pointwise`)."""
    return (
        Formula("forward", "output", forward, forward_words, ("input",), forward_element),
        Formula("backward", "input_grad", backward, backward_words, uses, backward_element),
    )


def _n(v: float) -> str:
    """A number in a worked line, in parentheses when negative (``2 · (−3)``)."""
    text = number(v)
    return f"({text})" if text.startswith("-") else text


def _relu_forward(at, input):
    out = max(0.0, input)
    return f"max(0, {{x}}{at}) = max(0, {number(input)}) = {number(out)}", out


def _relu_backward(at, grad_out, input):
    on = 1.0 if input > 0 else 0.0
    return (
        f"{{dy}}{at} · [{{x}}{at} > 0] = {_n(grad_out)} · [{number(input)} > 0] = "
        f"{_n(grad_out)} · {on:g} = {number(grad_out * on)}",
        grad_out * on,
    )


def _sigmoid_forward(at, input):
    out = float(sigmoid(np.array(input)))
    return f"1 / (1 + e^(−{{x}}{at})) = 1 / (1 + e^(−{_n(input)})) = {number(out)}", out


def _sigmoid_backward(at, grad_out, output):
    local = output * (1 - output)
    return (
        f"{{dy}}{at} · {{y}}{at} · (1 − {{y}}{at}) = {_n(grad_out)} · {number(output)} · "
        f"{_n(1 - output)} = {number(grad_out * local)}",
        grad_out * local,
    )


def _tanh_forward(at, input):
    out = float(np.tanh(input))
    return f"tanh({{x}}{at}) = tanh({number(input)}) = {number(out)}", out


def _tanh_backward(at, grad_out, output):
    local = 1 - output * output
    return (
        f"{{dy}}{at} · (1 − {{y}}{at}²) = {_n(grad_out)} · (1 − {_n(output)}²) = "
        f"{_n(grad_out)} · {number(local)} = {number(grad_out * local)}",
        grad_out * local,
    )


def _silu_forward(at, input):
    s = float(sigmoid(np.array(input)))
    return f"{{x}}{at} · σ({{x}}{at}) = {_n(input)} · {number(s)} = {number(input * s)}", input * s


def _silu_backward(at, grad_out, input):
    s = float(sigmoid(np.array(input)))
    local = s * (1 + input * (1 - s))
    return (
        f"{{dy}}{at} · σ({{x}}{at}) · (1 + {{x}}{at} · (1 − σ({{x}}{at}))) = {_n(grad_out)} · "
        f"{number(s)} · (1 + {_n(input)} · {number(1 - s)}) = {number(grad_out * local)}",
        grad_out * local,
    )


def _identity_forward(at, input):
    return f"{{x}}{at} = {number(input)}", input


def _identity_backward(at, grad_out):
    return f"{{dy}}{at} = {number(grad_out)}", grad_out


def _row(v: np.ndarray, limit: int = 6) -> str:
    terms = [number(t) for t in v]
    if len(terms) > limit:
        terms = [*terms[:3], "…", *terms[-3:]]
    return " + ".join(terms)


def _softmax_forward(values, index: tuple[int, ...]) -> Worked:
    """``A[i, j] = e^(Z[i, j] − m) / Σ_k e^(Z[i, k] − m)``, m the row's maximum."""
    z = values["input"].astype(np.float64)
    i, j = index
    shift = float(z[i].max())
    e = np.exp(z[i] - shift)
    value = float(e[j] / e.sum())
    return Worked(
        index=index,
        lines=(
            f"{{y}}{index_text(index)} = e^({{x}}[{i}, {j}] − m) / Σ_k e^({{x}}[{i}, k] − m), "
            f"m = max_k {{x}}[{i}, k] = {number(shift)}",
            f"= {number(e[j])} / ({_row(e)})",
            f"= {number(e[j])} / {number(e.sum())} = {number(value)}",
        ),
        value=value,
        cells=(("input", (i, slice(None))),),
    )


def _softmax_backward(values, index: tuple[int, ...]) -> Worked:
    """``dZ[i, j] = A[i, j] · (dA[i, j] − Σ_k dA[i, k] · A[i, k])``."""
    a = values["output"].astype(np.float64)
    g = values["grad_out"].astype(np.float64)
    i, j = index
    mean = float(np.dot(g[i], a[i]))
    value = float(a[i, j] * (g[i, j] - mean))
    return Worked(
        index=index,
        lines=(
            f"{{dx}}{index_text(index)} = {{y}}[{i}, {j}] · ({{dy}}[{i}, {j}] − "
            f"Σ_k {{dy}}[{i}, k] · {{y}}[{i}, k])",
            f"= {number(a[i, j])} · ({_n(g[i, j])} − {_n(mean)}) = {number(value)}",
        ),
        value=value,
        cells=(("output", (i, slice(None))), ("grad_out", (i, slice(None)))),
    )


@register_layer
class Identity(Activation):
    """``A = Z``; ``dL/dZ = dL/dA``."""

    activation_name = "identity"

    def forward(self, x):
        x = self._input(x)
        self._x = x
        return x.copy()

    def backward(self, grad_out):
        x = self._cached("_x")
        return self._grad(grad_out, x).copy()

    def formulas(self, training):
        return activation_formulas(
            "{y} = {x}",
            "Activation: the identity passes the values through",
            "{dx} = {dy}",
            Z_WORDS + ": the identity passes the gradient through",
            ("grad_out",),
            pointwise(_identity_forward),
            pointwise(_identity_backward, "{dx}"),
        )

    def to_onnx(self, graph, path, x):
        return graph.node("Identity", [x], f"{path}.identity")


@register_layer
class ReLU(Activation):
    """``A = max(0, Z)``; ``dL/dZ = dL/dA ⊙ [Z > 0]``.

    The derivative at exactly 0 is taken as 0, as PyTorch does.
    """

    activation_name = "relu"
    default_init = "he"

    def forward(self, x):
        if type(x) is not np.ndarray or x.dtype.kind != "f":
            x = self._input(x)
        if self.training:
            # The mask lives in a reused buffer: multiplying by it in backward is cheaper than
            # comparing again, and reusing it avoids an allocation per step.
            self._cache = (np.greater(x, 0, out=self._scratch("mask", x.shape, _BOOL)), x.dtype)
        else:
            # Evaluation (predict) rarely back-propagates: keep x, and compare only if asked.
            self._cache = (x, x.dtype)
        # Against an array of zeros, np.maximum takes a vectorised path ~3x faster than against 0.
        return np.maximum(x, self._scratch("zeros", x.shape, x.dtype, fill=0))

    def backward(self, grad_out):
        kept, dtype = self._cached("_cache")
        mask = kept if kept.dtype == _BOOL else kept > 0
        grad = self._check_grad_out(grad_out, mask.shape, dtype)
        return np.multiply(grad, mask)

    def formulas(self, training):
        return activation_formulas(
            "{y} = max(0, {x})",
            "Activation: ReLU keeps the positive values and sets the rest to 0",
            "{dx} = {dy} ⊙ [{x} > 0]",
            Z_WORDS + ": the gradient passes where {x} > 0 and stops where it is not",
            ("grad_out", "input"),
            pointwise(_relu_forward),
            pointwise(_relu_backward, "{dx}"),
        )

    def to_onnx(self, graph, path, x):
        return graph.node("Relu", [x], f"{path}.relu")


@register_layer
class LeakyReLU(Activation):
    """``A = Z`` where ``Z > 0``, else ``α·Z``; ``dL/dZ = dL/dA ⊙ (1 if Z > 0 else α)``."""

    activation_name = "leaky_relu"
    default_init = "he"

    def __init__(self, alpha: float = 0.01):
        self.alpha = check_real(alpha, "alpha")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")

    def forward(self, x):
        x = self._input(x)
        mask = np.greater(x, 0, out=self._scratch("mask", x.shape, _BOOL))
        self._cache = (mask, x.dtype)
        return np.where(mask, x, x * x.dtype.type(self.alpha))

    def backward(self, grad_out):
        mask, dtype = self._cached("_cache")
        grad = self._check_grad_out(grad_out, mask.shape, dtype)
        return np.where(mask, grad, grad * grad.dtype.type(self.alpha))

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def formulas(self, training):
        a = f"{self.alpha:g}"
        return activation_formulas(
            f"{{y}} = {{x}} where {{x}} > 0, else {a}·{{x}}",
            f"Activation: LeakyReLU keeps the positive values and scales the rest by α = {a}",
            f"{{dx}} = {{dy}} ⊙ (1 where {{x}} > 0, else {a})",
            Z_WORDS + f": the gradient passes where {{x}} > 0 and is scaled by {a} where it is not",
            ("grad_out", "input"),
            pointwise(self._worked_forward),
            pointwise(self._worked_backward, "{dx}"),
        )

    def _worked_forward(self, at, input):
        out = input if input > 0 else self.alpha * input
        how = f"{{x}}{at} = {number(input)}" if input > 0 else f"{self.alpha:g} · {_n(input)}"
        return f"{how} = {number(out)}" if input <= 0 else how, out

    def _worked_backward(self, at, grad_out, input):
        local = 1.0 if input > 0 else self.alpha
        return (
            f"{{dy}}{at} · (1 if {{x}}{at} > 0 else {self.alpha:g}) = {_n(grad_out)} · "
            f"{local:g} = {number(grad_out * local)}",
            grad_out * local,
        )

    def to_onnx(self, graph, path, x):
        """``LeakyRelu`` in float32. In float64, ``Where(x > 0, x, x·α)`` with α a float64 tensor:
        LeakyRelu's α is a float32 attribute in every opset, and its double kernel starts at
        opset 16 (with α = 0.1, ``LeakyRelu(−1.0)`` in double is off by 1.5e-9)."""
        if graph.dtype == np.float32:
            return graph.node("LeakyRelu", [x], f"{path}.leaky_relu", alpha=self.alpha)
        positive = graph.node("Greater", [x, graph.constant("zero", 0.0)], f"{path}.positive")
        if np.float32(self.alpha) == 1 and self.alpha != 1:
            # onnxruntime drops a Mul by a double that is 1 in float32; x + x·(α − 1) keeps α.
            delta = graph.tensor(f"{path}.alpha_minus_1", np.array(self.alpha - 1))
            small = graph.node("Mul", [x, delta], f"{path}.scaled_delta")
            scaled = graph.node("Add", [x, small], f"{path}.scaled")
        else:
            alpha = graph.tensor(f"{path}.alpha", np.array(self.alpha))
            scaled = graph.node("Mul", [x, alpha], f"{path}.scaled")
        return graph.node("Where", [positive, x, scaled], f"{path}.leaky_relu")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e⁻ˣ), computed from e^(−|x|) so that nothing overflows at any x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@register_layer
class Sigmoid(Activation):
    """``A = σ(Z)``; ``dL/dZ = dL/dA ⊙ A(1 − A)``."""

    activation_name = "sigmoid"

    def forward(self, x):
        a = sigmoid(self._input(x))
        self._a = a
        return a.copy()

    def backward(self, grad_out):
        a = self._cached("_a")
        return self._grad(grad_out, a) * (a * (1 - a))

    def formulas(self, training):
        return activation_formulas(
            "{y} = σ({x}) = 1 / (1 + e^(−{x}))",
            "Activation: the sigmoid squashes each value into (0, 1)",
            "{dx} = {dy} ⊙ {y} ⊙ (1 − {y})",
            Z_WORDS + ": σ′(Z) = σ(Z)(1 − σ(Z)), read from the output {y}",
            ("grad_out", "output"),
            pointwise(_sigmoid_forward),
            pointwise(_sigmoid_backward, "{dx}"),
        )

    def to_onnx(self, graph, path, x):
        return graph.node("Sigmoid", [x], f"{path}.sigmoid")


@register_layer
class Tanh(Activation):
    """``A = tanh(Z)``; ``dL/dZ = dL/dA ⊙ (1 − A²)``."""

    activation_name = "tanh"

    def forward(self, x):
        a = np.tanh(self._input(x))
        self._a = a
        return a.copy()

    def backward(self, grad_out):
        a = self._cached("_a")
        return self._grad(grad_out, a) * (1 - a * a)

    def formulas(self, training):
        return activation_formulas(
            "{y} = tanh({x})",
            "Activation: tanh squashes each value into (−1, 1)",
            "{dx} = {dy} ⊙ (1 − {y}²)",
            Z_WORDS + ": tanh′(Z) = 1 − tanh²(Z), read from the output {y}",
            ("grad_out", "output"),
            pointwise(_tanh_forward),
            pointwise(_tanh_backward, "{dx}"),
        )

    def to_onnx(self, graph, path, x):
        return graph.node("Tanh", [x], f"{path}.tanh")


@register_layer
class SiLU(Activation):
    """SiLU, also called Swish: ``A = Z · σ(Z)``;
    ``dL/dZ = dL/dA ⊙ σ(Z) · (1 + Z · (1 − σ(Z)))``, from the product rule and σ′ = σ(1 − σ).
    """

    activation_name = "silu"
    default_init = "he"

    def forward(self, x):
        x = self._input(x)
        s = sigmoid(x)
        self._cache = (x, s)
        return x * s

    def backward(self, grad_out):
        x, s = self._cached("_cache")
        g = self._grad(grad_out, x)
        return g * (s * (1 + x * (1 - s)))

    def formulas(self, training):
        return activation_formulas(
            "{y} = {x} · σ({x})",
            "Activation: SiLU (Swish), each value times its own sigmoid",
            "{dx} = {dy} ⊙ σ({x}) ⊙ (1 + {x} ⊙ (1 − σ({x})))",
            Z_WORDS + ": the product rule on Z·σ(Z), with σ′(Z) = σ(Z)(1 − σ(Z))",
            ("grad_out", "input"),
            pointwise(_silu_forward),
            pointwise(_silu_backward, "{dx}"),
        )

    def to_onnx(self, graph, path, x):
        """``Mul(x, Sigmoid(x))``: the operators onnxruntime computes in float32 and float64."""
        s = graph.node("Sigmoid", [x], f"{path}.sigmoid")
        return graph.node("Mul", [x, s], f"{path}.silu")


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that no exponent overflows."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


@register_layer
class Softmax(Activation):
    """``A_i = e^(Z_i) / Σ_j e^(Z_j)`` over the features of each row.

    Backward (the Jacobian of each row applied to its gradient)::

        dL/dZ = A ⊙ (dL/dA − Σ_j dL/dA_j · A_j)

    For classification, give the logits to ``CrossEntropyLoss`` instead of ending the network
    with Softmax: the fused loss is more accurate and cheaper.
    """

    def forward(self, x):
        x = self._input(x)
        if x.ndim != 2:
            raise ValueError(f"{self!r} expected a 2-D input (batch, features), got {x.shape}")
        a = softmax(x)
        self._a = a
        return a.copy()

    def backward(self, grad_out):
        a = self._cached("_a")
        g = self._grad(grad_out, a)
        return a * (g - (g * a).sum(axis=1, keepdims=True))

    def formulas(self, training):
        return activation_formulas(
            "{y} = e^{x} / Σ_j e^{x}_j, row by row",
            "Activation: softmax turns each row into probabilities that sum to 1",
            "{dx} = {y} ⊙ ({dy} − Σ_j {dy}_j · {y}_j)",
            Z_WORDS + ": through softmax's Jacobian diag(A) − A·Aᵀ, row by row (each row's "
            "gradient minus its mean weighted by {y}, times {y})",
            ("grad_out", "output"),
            _softmax_forward,
            _softmax_backward,
        )

    def to_onnx(self, graph, path, x):
        # Before opset 13 Softmax flattens its input to 2-D around `axis`; on (batch, features)
        # both forms are the row-wise softmax.
        return graph.node("Softmax", [x], f"{path}.softmax", axis=1 if graph.opset < 13 else -1)
