"""Activation layers: an elementwise (or, for Softmax, row-wise) function ``A = f(Z)``.

Backward is the chain rule ``dL/dZ = dL/dA ⊙ f′(Z)``, the notebook's
"loss w.r.t. pre-activation neuron output". Each layer keeps what f′ needs from its forward.
All are finite and warning-free for inputs of any finite size (±1000 included), in float32 and
float64, and return arrays of the input's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import as_numeric_array, check_real
from .layers import Layer

_BOOL = np.dtype(np.bool_)


class Activation(Layer):
    """Base class for parameter-free activation layers."""

    _transient = ("_x", "_a", "_cache")

    def _input(self, x) -> np.ndarray:
        x = as_numeric_array(x, f"{self!r} input")
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        return x

    def _grad(self, grad_out, like: np.ndarray) -> np.ndarray:
        return self._check_grad_out(grad_out, like.shape, like.dtype)


class Identity(Activation):
    """``A = Z``; ``dL/dZ = dL/dA``."""

    def forward(self, x):
        x = self._input(x)
        self._x = x
        return x.copy()

    def backward(self, grad_out):
        x = self._cached("_x")
        return self._grad(grad_out, x).copy()


class ReLU(Activation):
    """``A = max(0, Z)``; ``dL/dZ = dL/dA ⊙ [Z > 0]``.

    The derivative at exactly 0 is taken as 0, as PyTorch does.
    """

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


class LeakyReLU(Activation):
    """``A = Z`` where ``Z > 0``, else ``α·Z``; ``dL/dZ = dL/dA ⊙ (1 if Z > 0 else α)``."""

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


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e⁻ˣ), computed from e^(−|x|) so that nothing overflows at any x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(Activation):
    """``A = σ(Z)``; ``dL/dZ = dL/dA ⊙ A(1 − A)``."""

    def forward(self, x):
        a = sigmoid(self._input(x))
        self._a = a
        return a.copy()

    def backward(self, grad_out):
        a = self._cached("_a")
        return self._grad(grad_out, a) * (a * (1 - a))


class Tanh(Activation):
    """``A = tanh(Z)``; ``dL/dZ = dL/dA ⊙ (1 − A²)``."""

    def forward(self, x):
        a = np.tanh(self._input(x))
        self._a = a
        return a.copy()

    def backward(self, grad_out):
        a = self._cached("_a")
        return self._grad(grad_out, a) * (1 - a * a)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that no exponent overflows."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


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


_SQRT_HALF = np.sqrt(0.5)
_INV_SQRT_2PI = 1 / np.sqrt(2 * np.pi)


def erfc(x: np.ndarray) -> np.ndarray:
    """The complementary error function, to ~1e-13 relative in float64, in NumPy alone.

    * ``|x| < 1.5``: ``erf(x) = (2x e^(−x²) / √π) · Σ_k (2x²)^k / (2k+1)!!``, a series of
      positive terms (no cancellation), 40 terms, summed by Horner's rule; ``erfc = 1 − erf``.
    * ``x ≥ 1.5``: the continued fraction
      ``erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …))))``, 80 levels. Computing
      ``1 − erf`` there would lose relative precision as erfc becomes small.
    * ``x ≤ −1.5``: ``erfc(x) = 2 − erfc(−x)``.
    """
    given = np.asarray(x)
    x = given.astype(np.float64)  # float32 too: 1 − erf would cancel away its few digits
    out = np.empty_like(x)
    small = np.abs(x) < 1.5
    xs = x[small]
    t = 2 * xs * xs
    s = np.ones_like(xs)
    for k in range(40, 0, -1):
        s = 1 + s * t / (2 * k + 1)
    out[small] = 1 - (2 / np.sqrt(np.pi)) * xs * np.exp(-xs * xs) * s
    big = ~small
    xb = np.abs(x[big])
    f = xb.copy()
    for k in range(80, 0, -1):
        f = xb + (k / 2) / f
    tail = np.exp(-xb * xb) / np.sqrt(np.pi) / f
    out[big] = np.where(x[big] > 0, tail, 2 - tail)
    return out.astype(given.dtype, copy=False) if given.dtype.kind == "f" else out


class GELU(Activation):
    """Gaussian error linear unit, ``A = Z · Φ(Z)`` with Φ the standard normal CDF.

    ``approximate="none"`` (default, as PyTorch): ``Φ(z) = ½ erfc(−z/√2)``, and
    ``dA/dZ = Φ(Z) + Z · φ(Z)`` with ``φ(z) = e^(−z²/2)/√(2π)``.

    ``approximate="tanh"``: ``A = ½ Z (1 + tanh(u))``, ``u = √(2/π)(Z + 0.044715 Z³)``, and
    ``dA/dZ = ½(1 + tanh u) + ½ Z (1 − tanh² u) · √(2/π)(1 + 3·0.044715 Z²)``.
    """

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        x = self._input(x)
        if self.approximate == "none":
            cdf = 0.5 * erfc(-x * _SQRT_HALF)
            self._cache = (x, cdf)
            return (x * cdf).astype(x.dtype, copy=False)
        k = np.sqrt(2 / np.pi)
        th = np.tanh(k * (x + 0.044715 * x**3))
        self._cache = (x, th)
        return (0.5 * x * (1 + th)).astype(x.dtype, copy=False)

    def backward(self, grad_out):
        x, aux = self._cached("_cache")
        g = self._grad(grad_out, x)
        if self.approximate == "none":
            pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
            local = aux + x * pdf
        else:
            k = np.sqrt(2 / np.pi)
            local = 0.5 * (1 + aux) + 0.5 * x * (1 - aux * aux) * k * (1 + 3 * 0.044715 * x * x)
        return (g * local).astype(x.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}
