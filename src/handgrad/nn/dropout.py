"""Inverted dropout."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import as_numeric_array, make_rng
from .layer import Formula, Layer, number, pointwise, register_layer


@register_layer
class Dropout(Layer):
    """Inverted dropout: in training, each input is zeroed with probability ``p`` and the survivors
    are scaled by ``1/(1 − p)``, so the expected output equals the input; in evaluation mode the
    layer passes its input through unchanged.

    Training: ``M_ij = [U_ij ≥ p] / (1 − p)`` with ``U ~ U[0, 1)`` drawn from ``rng``;
    ``Y = X ⊙ M`` and ``dL/dX = dL/dY ⊙ M``. Evaluation: ``Y = X``, ``dL/dX = dL/dY``.

    Parameters
    ----------
    p : float in [0, 1)
        Probability of dropping each input.
    rng : np.random.Generator, int or None
        Source of the masks; give a seed for reproducible training.
    """

    _transient = ("_mask",)
    trace_letter = "A"
    trace_symbols: ClassVar[dict[str, str]] = {"mask": "M"}

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | int | None = None):
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.floating)):
            raise TypeError(f"p must be a probability in [0, 1), got {p!r}")
        if not 0 <= p < 1:
            raise ValueError(f"p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = make_rng(rng)
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_numeric_array(x, f"{self!r} input")
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        if not self.training or self.p == 0:
            self._mask = np.ones((), dtype=x.dtype)  # backward passes the gradient through
            return x.copy()
        keep = self.rng.random(x.shape, dtype=x.dtype if x.dtype == np.float32 else np.float64)
        mask = (keep >= self.p).astype(x.dtype)
        mask *= x.dtype.type(1 / (1 - self.p))
        self._mask = mask
        return x * mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        mask = self._cached("_mask")
        grad = as_numeric_array(grad_out, f"{self!r}.backward grad_out")
        if mask.ndim and grad.shape != mask.shape:
            raise ValueError(
                f"{self!r}.backward expected grad_out of shape {mask.shape} "
                f"(the shape of its last output), got {grad.shape}"
            )
        return (grad * mask).astype(mask.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}

    def trace_values(self) -> dict[str, np.ndarray]:
        """The mask of the last training forward, ``M``, for the trace."""
        mask = self._mask
        return {"mask": mask} if mask is not None and mask.ndim else {}

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        if not training or self.p == 0:
            why = "evaluation mode" if not training else "p = 0"
            return (
                Formula(
                    "forward", "output", "{y} = {x}",
                    f"Dropout is off ({why}): the values pass through", ("input",),
                ),
                Formula(
                    "backward", "input_grad", "{dx} = {dy}",
                    "Loss w.r.t. dropout's input: the gradient passes through", ("grad_out",),
                ),
            )  # fmt: skip
        p, keep = f"{self.p:g}", f"{1 / (1 - self.p):g}"
        return (
            Formula(
                "forward",
                "output",
                f"{{y}} = {{x}} ⊙ {{mask}}, {{mask}} = [U ≥ {p}] / (1 − {p}), U uniform in [0, 1)",
                f"Dropout: each value is zeroed with probability {p}, the others are scaled by "
                f"{keep}; the mask {{mask}} is the one this step drew",
                ("input", "mask"),
                pointwise(_worked_forward),
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx} = {dy} ⊙ {mask}",
                "Loss w.r.t. dropout's input: the gradient flows only through the values kept, "
                f"scaled by {keep}",
                ("grad_out", "mask"),
                pointwise(_worked_backward, "{dx}"),
            ),
        )

    def to_onnx(self, graph, path: str, x: str) -> str:
        """Nothing: an exported model is for inference, where dropout is the identity."""
        return x


def _kept(mask: float) -> str:
    return "kept" if mask else "dropped"


def _worked_forward(at, input, mask):
    out = input * mask
    return (
        f"{{x}}{at} · {{mask}}{at} = {number(input)} · {number(mask)} = {number(out)} "
        f"({_kept(mask)})",
        out,
    )


def _worked_backward(at, grad_out, mask):
    out = grad_out * mask
    return (
        f"{{dy}}{at} · {{mask}}{at} = {number(grad_out)} · {number(mask)} = {number(out)} "
        f"({_kept(mask)})",
        out,
    )
