"""``Residual(layer)``: ``y = x + layer(x)``, the skip connection of a ResNet block."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import describe
from .layer import Formula, Layer, Worked, index_text, number, register_layer

__all__ = ["Residual"]


@register_layer
class Residual(Layer):
    """A skip connection around one layer, often a ``Sequential`` block:
    ``y = x + F(x)`` with ``F`` the ``layer``, which must keep the shape of its input.

    Backward, by the sum rule: the gradient reaches x both directly and through the branch::

        dL/dx = dy + F.backward(dy)            (shape of x)

    ``F``'s parameters are the block's (``"layer.0.weight"``…). In ``hg.trace`` the block's inner
    layers appear one by one, then the addition; the gradient the branch returns is
    ``dL/dx (branch)``.
    """

    _transient = ("_cache",)
    trace_letter = "R"

    def __init__(self, layer: Layer):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"layer must be a Layer (e.g. a hg.Sequential block), got {describe(layer)}"
            )
        self.layer = layer
        self._cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        branch = self.layer.forward(x)
        shape = np.shape(x)
        if branch.shape != shape:
            raise ValueError(
                f"{self!r} needs its layer to keep the shape of its input, so that x + F(x) "
                f"adds up: got {branch.shape} from {shape}"
            )
        self._cache = (shape, branch.dtype)
        return branch + x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        shape, dtype = self._cached("_cache")
        grad = self._check_grad_out(grad_out, shape, dtype)
        return grad + self.layer.backward(grad)  # dL/dx = dy + F.backward(dy)

    def backward_params(self, grad_out: np.ndarray) -> None:
        # No one needs dL/dx of the first layer: the branch may skip its own too.
        self.layer.backward_params(grad_out)

    def leaves(self) -> list[tuple[str, Layer]]:
        """The branch's leaves (``"layer.0"``…), then the block itself, which adds."""
        return [(f"layer.{p}" if p else "layer", leaf) for p, leaf in self.layer.leaves()] + [
            ("", self)
        ]

    def input_shape(self) -> tuple[int | None, ...] | None:
        return self.layer.input_shape()

    def largest_activation(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        branch, largest = self.layer.largest_activation(x)
        return branch + x, max(largest, x.size)

    def get_config(self) -> dict[str, Any]:
        return {"layer": self.layer}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Residual:
        return cls(config["layer"])

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        inner = config.get("layer")
        if isinstance(inner, Layer):
            return f"Residual({' → '.join(repr(leaf) for _, leaf in inner.leaves())})"
        return "Residual(…)"

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        return (
            Formula(
                "forward",
                "output",
                "{y} = {x} + {branch}",
                "Skip connection: the block's input added to what its layers made of it",
                ("input", "branch"),
                _worked,
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx} = {dy} + {branch_grad}",
                "Loss w.r.t. the block's input: the gradient that skips the block plus the one "
                "back through its layers",
                ("grad_out", "branch_grad"),
                _worked_grad,
            ),
        )

    def to_onnx(self, graph, path: str, x: str) -> str:
        """The branch's nodes, then ``Add`` of the input and the branch's output."""
        branch = graph.layer(self.layer, f"{path}.layer", x)
        return graph.node("Add", [x, branch], f"{path}.add")


def _worked(values, index: tuple[int, ...]) -> Worked:
    x, branch = values["input"], values["branch"]
    value = float(x[index]) + float(branch[index])
    at = index_text(index)
    return Worked(
        index=index,
        lines=(
            f"{{y}}{at} = {{x}}{at} + {{branch}}{at}",
            f"= {number(x[index])} + {number(branch[index])} = {number(value)}",
        ),
        value=value,
        cells=(("input", index), ("branch", index)),
    )


def _worked_grad(values, index: tuple[int, ...]) -> Worked:
    dy, through = values["grad_out"], values["branch_grad"]
    value = float(dy[index]) + float(through[index])
    at = index_text(index)
    return Worked(
        index=index,
        lines=(
            f"{{dx}}{at} = {{dy}}{at} + {{branch_grad}}{at}",
            f"= {number(dy[index])} + {number(through[index])} = {number(value)}",
        ),
        value=value,
        cells=(("grad_out", index), ("branch_grad", index)),
    )
