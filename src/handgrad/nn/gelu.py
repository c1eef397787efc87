"""GELU, the Gaussian error linear unit, with the complementary error function it needs.

Its ONNX form
-------------
float32 at opset 20 or later is ``Gelu(approximate=…)``; float32 before opset 20 is
``½·x·(1 + Erf(x/√2))`` or ``½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``. Float64 is written
out, because onnxruntime's CPU kernels do not all take doubles, and some that do are less precise
than a double (measured with onnx 1.23 and onnxruntime 1.32):

* ``Erf`` has no double kernel (``NOT_IMPLEMENTED``), and ``Gelu(approximate="none")`` is expanded
  into ``Erf``, so it fails the same way. A float64 exact GELU is written out with the operators
  that do take doubles: with ``a = |x|/√2``, ``Φ(x) = h`` for ``x < 0`` and ``1 − h`` otherwise,
  where ``h = ½·erfc(a)`` and

  - for ``a < 2.5``: ``erfc(a) = 1 − (2/√π)·a·e^(−a²)·s`` with
    ``s = Σ_{k≤35} (2a²)^k / (2k+1)!! = 1 + t/3·(1 + t/5·(1 + …))``, ``t = 2a²``, a series of
    positive terms;
  - for ``a ≥ 2.5``: ``erfc(a) = e^(−a²)/√π · 1/(a + ½/(a + 1/(a + (3/2)/(a + …))))``, a
    continued fraction of 30 levels.

  These are the two expansions of :func:`erfc` below, with as many terms as double precision
  needs on each side of 2.5 (fewer nodes than a split at 1.5). Each branch sees its input clamped
  to its side of the split (``Min``/``Max``), so neither computes an overflow that ``Where`` would
  then discard. On 16,004 points of [−40, 40], onnxruntime's result is within
  8.9e-16·max(1, |y|) of ``x·Φ(x)`` computed by mpmath at 40 digits (handgrad's: 3.6e-16).
* ``Gelu(approximate="tanh")`` has a double kernel, but on inputs of standard deviation 4 it is
  off the formula by up to 5.8e-9; the formula is written out with ``Tanh``, which agrees with
  NumPy's to 6.7e-16 there.
* onnxruntime's graph optimizer removes an ``Add`` or ``Sub`` of a double constant that is 0 once
  rounded to float32, and a ``Mul`` or ``Div`` by one that is 1 once rounded to float32, as if
  they were no-ops. So no constant in these graphs is that small: the series is nested with the
  divisors 2k+1 rather than summed with the coefficients 1/(2k+1)!!, which fall below 1e-45.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .activations import Z_WORDS, Activation, activation_formulas
from .layer import number, pointwise, register_layer

__all__ = ["GELU"]

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


@register_layer
class GELU(Activation):
    """Gaussian error linear unit, ``A = Z · Φ(Z)`` with Φ the standard normal CDF.

    ``approximate="none"`` (default, as PyTorch): ``Φ(z) = ½ erfc(−z/√2)``, and
    ``dA/dZ = Φ(Z) + Z · φ(Z)`` with ``φ(z) = e^(−z²/2)/√(2π)``.

    ``approximate="tanh"``: ``A = ½ Z (1 + tanh(u))``, ``u = √(2/π)(Z + 0.044715 Z³)``, and
    ``dA/dZ = ½(1 + tanh u) + ½ Z (1 − tanh² u) · √(2/π)(1 + 3·0.044715 Z²)``.
    """

    activation_name = "gelu"
    default_init = "he"

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

    def formulas(self, training):
        if self.approximate == "tanh":
            return activation_formulas(
                "{y} = ½·{x}·(1 + tanh u), u = √(2/π)·({x} + 0.044715·{x}³)",
                "Activation: GELU, tanh approximation",
                "{dx} = {dy} ⊙ (½(1 + tanh u) + ½·{x}·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·{x}²))",
                Z_WORDS + ": the derivative of the tanh approximation",
                ("grad_out", "input"),
                pointwise(self._worked_forward),
                pointwise(self._worked_backward, "{dx}"),
            )
        return activation_formulas(
            "{y} = {x} · Φ({x})",
            "Activation: GELU, each value times the probability Φ that a standard normal is below "
            "it",
            "{dx} = {dy} ⊙ (Φ({x}) + {x} · φ({x}))",
            Z_WORDS + ": GELU′(Z) = Φ(Z) + Z·φ(Z), φ the standard normal density",
            ("grad_out", "input"),
            pointwise(self._worked_forward),
            pointwise(self._worked_backward, "{dx}"),
        )

    def _worked_forward(self, at, input):
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            u = k * (input + 0.044715 * input**3)
            out = 0.5 * input * (1 + math.tanh(u))
            return (
                f"½ · {{x}}{at} · (1 + tanh u) = ½ · {number(input)} · (1 + tanh {number(u)}) "
                f"= {number(out)}",
                out,
            )
        cdf = float(0.5 * erfc(np.array([-input * _SQRT_HALF]))[0])
        out = input * cdf
        return f"{{x}}{at} · Φ({{x}}{at}) = {number(input)} · {number(cdf)} = {number(out)}", out

    def _worked_backward(self, at, grad_out, input):
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            th = math.tanh(k * (input + 0.044715 * input**3))
            local = 0.5 * (1 + th) + 0.5 * input * (1 - th * th) * k * (1 + 3 * 0.044715 * input**2)
            return (
                f"{{dy}}{at} · GELU_tanh′({{x}}{at}) = {number(grad_out)} · {number(local)} "
                f"= {number(grad_out * local)}",
                grad_out * local,
            )
        cdf = float(0.5 * erfc(np.array([-input * _SQRT_HALF]))[0])
        pdf = math.exp(-0.5 * input * input) * float(_INV_SQRT_2PI)
        local = cdf + input * pdf
        return (
            f"{{dy}}{at} · (Φ({{x}}{at}) + {{x}}{at} · φ({{x}}{at})) = {number(grad_out)} · "
            f"({number(cdf)} + {number(input)} · {number(pdf)}) = {number(grad_out * local)}",
            grad_out * local,
        )

    def to_onnx(self, graph, path, x):
        """See the module docstring."""
        g, p = graph, f"{path}.gelu"
        if g.dtype == np.float32 and g.opset >= 20:
            return g.node("Gelu", [x], p, approximate=self.approximate)
        if self.approximate == "tanh":
            return _gelu_tanh_formula(g, p, x)
        cdf = _normal_cdf(g, p, x) if g.dtype == np.float64 else _normal_cdf_erf(g, p, x)
        return g.node("Mul", [x, cdf], p)


# Double-precision erfc in ONNX: below the split a series, above it a continued fraction. The term
# counts are what float64 needs on each side of the split.
_ERFC_SPLIT = 2.5
_ERF_SERIES_TERMS = 36
_ERFC_FRACTION_LEVELS = 30
_TANH_GELU_K = math.sqrt(2 / math.pi)
_TANH_GELU_C = 0.044715


def _gelu_tanh_formula(g: Any, p: str, x: str) -> str:
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


def _normal_cdf_erf(g: Any, p: str, x: str) -> str:
    """``Φ(x) = ½·(1 + Erf(x/√2))``, for dtypes whose Erf kernel exists (float32)."""
    u = g.node("Mul", [x, g.constant("sqrt_half", math.sqrt(0.5))], f"{p}.u")
    erf = g.node("Erf", [u], f"{p}.erf")
    one_plus = g.node("Add", [erf, g.constant("one", 1.0)], f"{p}.one_plus")
    return g.node("Mul", [one_plus, g.constant("half", 0.5)], f"{p}.cdf")


def _normal_cdf(g: Any, p: str, x: str) -> str:
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
