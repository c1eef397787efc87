"""The geometry of sliding windows, shared by the convolution and pooling layers.

Everything here works on channels-last batches in two spatial dimensions,
``(batch, height, width, channels)``; a 1-D layer views its ``(batch, length, channels)`` input
as ``(batch, 1, length, channels)`` (a free reshape) and uses the same code.

A window of ``kh × kw`` positions moved by strides ``(sh, sw)`` over an input padded by
``(top, bottom)`` and ``(left, right)`` zeros gives ``Ho × Wo`` outputs::

    Ho = (H + top + bottom − kh) // sh + 1          Wo = (W + left + right − kw) // sw + 1

Window ``(i, j)`` covers rows ``i·sh … i·sh + kh − 1`` and columns ``j·sw … j·sw + kw − 1`` of the
padded input; rows or columns left over at the end (when the division is not exact) belong to no
window, as in PyTorch.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._validation import describe


def int_pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each at least ``minimum``, as a pair."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        items = tuple(value)
    else:
        items = (value, value)
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a pair of ints, got {describe(value)}")
        if v < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
        out.append(int(v))
    return out[0], out[1]


def one_int(value, name: str, minimum: int) -> int:
    """An int at least ``minimum`` (a 1-D layer's kernel, stride or padding)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def same_padding(k: int) -> tuple[int, int]:
    """``"same"`` padding for a kernel of ``k`` at stride 1: ``k − 1`` zeros in all, the odd one
    at the end (bottom or right), as PyTorch pads."""
    return (k - 1) // 2, k - 1 - (k - 1) // 2


@dataclass(frozen=True)
class Geometry:
    """A window's size, stride and padding in two spatial dimensions."""

    kh: int
    kw: int
    sh: int
    sw: int
    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    @property
    def padded(self) -> bool:
        return bool(self.top or self.bottom or self.left or self.right)

    @property
    def overlapping(self) -> bool:
        return self.sh < self.kh or self.sw < self.kw

    def output_size(self, H: int, W: int) -> tuple[int, int]:
        """``(Ho, Wo)``; either may be ≤ 0 when the window does not fit."""
        Ho = (H + self.top + self.bottom - self.kh) // self.sh + 1
        Wo = (W + self.left + self.right - self.kw) // self.sw + 1
        return Ho, Wo

    def rows(self, i: int) -> tuple[int, int]:
        """The rows of the *unpadded* input that window row ``i`` covers, ``[start, stop)``
        (``start`` may be negative and ``stop`` past the end: those rows are padding)."""
        start = i * self.sh - self.top
        return start, start + self.kh

    def cols(self, j: int) -> tuple[int, int]:
        start = j * self.sw - self.left
        return start, start + self.kw


def windows(xp: np.ndarray, g: Geometry, Ho: int, Wo: int) -> np.ndarray:
    """The read-only view ``(N, Ho, Wo, kh, kw, C)`` of every window of the (already padded)
    batch ``xp``: no copy. In channels-last each window's ``kw × C`` run is contiguous, so copying
    this view into an ``(N·Ho·Wo, kh·kw·C)`` matrix is one pass over memory."""
    sN, sH, sW, sC = xp.strides
    return as_strided(
        xp,
        (xp.shape[0], Ho, Wo, g.kh, g.kw, xp.shape[3]),
        (sN, g.sh * sH, g.sw * sW, sH, sW, sC),
        writeable=False,
    )


def offset_view(a: np.ndarray, g: Geometry, a_row: int, b_col: int, Ho: int, Wo: int):
    """The ``(N, Ho, Wo, C)`` strided view of ``a`` (padded) holding, for every window, its
    element at kernel offset ``(a_row, b_col)``."""
    return a[
        :, a_row : a_row + g.sh * (Ho - 1) + 1 : g.sh, b_col : b_col + g.sw * (Wo - 1) + 1 : g.sw
    ]


def window_cells(g: Geometry, i: int, j: int, H: int, W: int) -> tuple[slice, slice]:
    """The rows and columns of the unpadded input inside window ``(i, j)``, as slices."""
    r0, r1 = g.rows(i)
    c0, c1 = g.cols(j)
    return slice(max(r0, 0), min(r1, H)), slice(max(c0, 0), min(c1, W))


def windows_holding(g: Geometry, r: int, s: int, Ho: int, Wo: int) -> list[tuple[int, ...]]:
    """``(i, j, a, b)`` for every window ``(i, j)`` that holds cell ``(r, s)`` of the unpadded
    input, where it sits at offset ``(a, b)``: the terms of an input gradient, worked out."""
    out = []
    for i in range(Ho):
        a = r + g.top - i * g.sh
        if 0 <= a < g.kh:
            for j in range(Wo):
                b = s + g.left - j * g.sw
                if 0 <= b < g.kw:
                    out.append((i, j, a, b))
    return out


def cells_met(g: Geometry, a: int, b: int, H: int, W: int, Ho: int, Wo: int):
    """The windows ``(i, j)`` whose offset ``(a, b)`` falls inside the unpadded input, and the
    input cells they meet there: ``(i-slice, j-slice, row-slice, column-slice)``, the terms of a
    kernel weight's gradient."""
    i0 = next((i for i in range(Ho) if 0 <= i * g.sh + a - g.top < H), None)
    j0 = next((j for j in range(Wo) if 0 <= j * g.sw + b - g.left < W), None)
    if i0 is None or j0 is None:
        return None
    i1 = max(i for i in range(Ho) if 0 <= i * g.sh + a - g.top < H) + 1
    j1 = max(j for j in range(Wo) if 0 <= j * g.sw + b - g.left < W) + 1
    r0, c0 = i0 * g.sh + a - g.top, j0 * g.sw + b - g.left
    rows = slice(r0, r0 + (i1 - i0 - 1) * g.sh + 1, g.sh)
    cols = slice(c0, c0 + (j1 - j0 - 1) * g.sw + 1, g.sw)
    return slice(i0, i1), slice(j0, j1), rows, cols


def padded_window(x: np.ndarray, g: Geometry, n: int, i: int, j: int) -> np.ndarray:
    """Window ``(i, j)`` of sample ``n`` of the unpadded ``x`` ``(N, H, W, C)``, with the padding's
    zeros where it reaches past the edges: shape ``(kh, kw, C)``."""
    H, W = x.shape[1:3]
    out = np.zeros((g.kh, g.kw, x.shape[3]), dtype=x.dtype)
    r0, _ = g.rows(i)
    c0, _ = g.cols(j)
    rows, cols = window_cells(g, i, j, H, W)
    out[rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0] = x[n, rows, cols]
    return out


# ONNX ------------------------------------------------------------------------------------------

INT64_MAX = np.iinfo(np.int64).max


def onnx_offset_slice(graph, x: str, name: str, g: Geometry, a: int, b: int, spatial: int) -> str:
    """An ONNX ``Slice`` of the padded channels-last tensor ``x`` that keeps, for every window, its
    element at kernel offset ``(a, b)``: the ``(N, Ho, Wo, C)`` of :func:`offset_view`, written
    without knowing ``H`` and ``W`` (the end counts back from the last row), so the graph keeps
    dynamic spatial sizes. ``spatial`` is 1 for a ``(N, L, C)`` tensor (``a`` is then 0)."""
    axes = [1, 2] if spatial == 2 else [1]
    starts = [a, b] if spatial == 2 else [b]
    ends = [g.kh - 1 - a, g.kw - 1 - b] if spatial == 2 else [g.kw - 1 - b]
    ends = [-e if e else INT64_MAX for e in ends]
    steps = [g.sh, g.sw] if spatial == 2 else [g.sw]
    if graph.opset < 10:
        if any(s != 1 for s in steps):
            raise ValueError(
                f"{name}: a strided window in float64 is written with Slice's steps, which ONNX "
                f"has from opset 10; export at opset >= 10 (got {graph.opset})"
            )
        return graph.node("Slice", [x], name, starts=starts, ends=ends, axes=axes)
    inputs = [
        graph.int64(f"{name}.starts", starts),
        graph.int64(f"{name}.ends", ends),
        graph.int64(f"{name}.axes", axes),
        graph.int64(f"{name}.steps", steps),
    ]
    return graph.node("Slice", [x, *inputs], name)


def onnx_pad(graph, x: str, name: str, g: Geometry, spatial: int) -> str:
    """Zero padding of a channels-last tensor, as ``g`` says (``x`` itself when there is none)."""
    if not g.padded:
        return x
    if spatial == 2:
        pads = [0, g.top, g.left, 0, 0, g.bottom, g.right, 0]
    else:
        pads = [0, g.left, 0, 0, g.right, 0]
    if graph.opset < 11:
        return graph.node("Pad", [x], name, pads=pads, mode="constant", value=0.0)
    return graph.node("Pad", [x, graph.int64(f"{name}.pads", pads)], name, mode="constant")


def onnx_channels_first(graph, x: str, name: str, spatial: int) -> str:
    """``(N, H, W, C)`` → ``(N, C, H, W)`` (or ``(N, L, C)`` → ``(N, C, L)``)."""
    return graph.node("Transpose", [x], name, perm=[0, 3, 1, 2] if spatial == 2 else [0, 2, 1])


def onnx_channels_last(graph, x: str, name: str, spatial: int) -> str:
    """``(N, C, H, W)`` → ``(N, H, W, C)`` (or ``(N, C, L)`` → ``(N, L, C)``)."""
    return graph.node("Transpose", [x], name, perm=[0, 2, 3, 1] if spatial == 2 else [0, 2, 1])


def onnx_pool_attributes(g: Geometry, spatial: int) -> dict:
    """``kernel_shape``, ``strides`` and ``pads`` of an ONNX Conv or pool, channels-first."""
    if spatial == 2:
        return {
            "kernel_shape": [g.kh, g.kw],
            "strides": [g.sh, g.sw],
            "pads": [g.top, g.left, g.bottom, g.right],
        }
    return {"kernel_shape": [g.kw], "strides": [g.sw], "pads": [g.left, g.right]}
