"""Pooling, channels last: ``MaxPool2D``, ``AvgPool2D`` on ``(batch, height, width, channels)``,
``MaxPool1D``, ``AvgPool1D`` on ``(batch, length, channels)``, and ``GlobalAvgPool``, the mean over
every axis between the batch and the channels.

A pool looks at each ``k × k`` window (stride ``s``, the kernel size unless given) of each channel
on its own. The 1-D pools view their input as images of height 1 and run the 2-D code.

``MaxPool2D`` (and ``MaxPool1D``) right after a ``ReLU`` run as one pass inside a ``Sequential``:
since ReLU never changes which value of a window is largest, ``max(relu(x)) = relu(max(x))``,
the pair pools first and applies ReLU to the pooled values only, a quarter of them for 2×2
windows, and back-propagates straight to the ReLU's input. Both layers still appear in the
network, the trace and the model file as they are.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .._validation import as_numeric_array
from .activations import ReLU
from .conv import _Convolution
from .layer import Formula, Layer, Worked, index_text, number, register_layer
from .windows import (
    Geometry,
    int_pair,
    offset_view,
    one_int,
    onnx_channels_first,
    onnx_channels_last,
    onnx_offset_slice,
    onnx_pool_attributes,
    window_cells,
    windows_holding,
)

__all__ = ["AvgPool1D", "AvgPool2D", "GlobalAvgPool", "MaxPool1D", "MaxPool2D"]

_BOOL = np.dtype(np.bool_)


class _Pool(Layer):
    """What the four window pools share: the window's geometry, the input checks, and a backward
    that routes each window's gradient back to the input positions it came from."""

    _transient = ("_cache",)
    trace_letter = "A"
    changes_shape = True
    spatial: ClassVar[int] = 2
    kind: ClassVar[str] = "pool"

    def _init(self, kernel_size, stride) -> None:
        if self.spatial == 2:
            self.kernel_size = int_pair(kernel_size, "kernel_size", 1)
            self.stride = self.kernel_size if stride is None else int_pair(stride, "stride", 1)
        else:
            self.kernel_size = one_int(kernel_size, "kernel_size", 1)
            self.stride = self.kernel_size if stride is None else one_int(stride, "stride", 1)
        self._cache = None

    @property
    def _geometry(self) -> Geometry:
        if self.spatial == 2:
            return Geometry(*self.kernel_size, *self.stride)
        return Geometry(1, self.kernel_size, 1, self.stride)

    def _expected(self) -> str:
        return (
            "(batch, height, width, channels)" if self.spatial == 2 else "(batch, length, channels)"
        )

    def _to_4d(self, x) -> tuple[np.ndarray, int, int]:
        rank = self.spatial + 2
        if not (type(x) is np.ndarray and x.dtype.kind == "f" and x.ndim == rank):
            x = as_numeric_array(x, f"{self!r} input")
            if x.ndim != rank:
                raise ValueError(f"{self!r} expected input {self._expected()}, got shape {x.shape}")
            if x.dtype.kind != "f":
                x = x.astype(np.float64)
        x4 = x if self.spatial == 2 else x[:, None]
        g = self._geometry
        Ho, Wo = g.output_size(*x4.shape[1:3])
        if Ho <= 0 or Wo <= 0:
            size = "×".join(str(s) for s in x.shape[1:-1])
            raise ValueError(
                f"{self!r} got input of shape {x.shape}: its window is larger than the input "
                f"({size}), so the output would be empty"
            )
        return x4, Ho, Wo

    def _out(self, y4: np.ndarray) -> np.ndarray:
        return y4 if self.spatial == 2 else y4[:, 0]

    def _grad(self, grad_out, shape4, Ho, Wo, dtype) -> np.ndarray:
        N, C = shape4[0], shape4[3]
        expected = (N, Ho, Wo, C) if self.spatial == 2 else (N, Wo, C)
        g = self._check_grad_out(grad_out, expected, dtype)
        return g if self.spatial == 2 else g[:, None]

    def _spread(self, shape4, Ho, Wo, dtype, pieces) -> np.ndarray:
        """dX from each kernel offset's share of the gradient, ``pieces(offset) -> (N, Ho, Wo,
        C)``: written straight into place when the windows tile the input, added up where they
        overlap, zero where no window reaches."""
        g = self._geometry
        dX = np.empty(shape4, dtype=dtype)
        tiles = g.sh == g.kh and g.sw == g.kw
        if tiles:
            H, W = shape4[1:3]
            if Ho * g.sh < H:
                dX[:, Ho * g.sh :] = 0
            if Wo * g.sw < W:
                dX[:, :, Wo * g.sw :] = 0
        else:
            dX.fill(0)
        offset = 0
        for a in range(g.kh):
            for b in range(g.kw):
                view = offset_view(dX, g, a, b, Ho, Wo)
                if tiles:
                    pieces(offset, view)
                else:
                    view += pieces(offset, None)
                offset += 1
        return dX

    def get_config(self) -> dict[str, Any]:
        if self.spatial == 2:
            return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> _Pool:
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
        return cls(**config)

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        k, s = config.get("kernel_size"), config.get("stride")
        if cls.spatial == 2:
            k = tuple(k) if isinstance(k, (list, tuple)) else (k, k)
            s = tuple(s) if isinstance(s, (list, tuple)) else (s, s)
            text = f"{cls.__name__}({k[0]}×{k[1]}"
            if s != k:
                text += f", stride {s[0]}" if s[0] == s[1] else f", stride {s}"
        else:
            text = f"{cls.__name__}({k}"
            if s != k:
                text += f", stride {s}"
        return text + ")"

    def _where(self) -> str:
        g = self._geometry
        i = "i + a" if g.sh == 1 else f"i·{g.sh} + a"
        j = "j + b" if g.sw == 1 else f"j·{g.sw} + b"
        if self.spatial == 2:
            return f"n, {i}, {j}, c", "n, i, j, c", "a, b"
        return f"n, {j}, c", "n, j, c", "b"

    def _holding(self, grad_out: np.ndarray, index: tuple[int, ...]):
        """The windows that hold input cell ``index``: ``(output index, (a, b))`` for each, the
        output index in the layer's own form."""
        g4 = grad_out if self.spatial == 2 else grad_out[:, None]
        n, r, s, c = index if self.spatial == 2 else (index[0], 0, *index[1:])
        held = windows_holding(self._geometry, r, s, *g4.shape[1:3])
        out = []
        for i, j, a, b in held:
            at = (n, i, j, c) if self.spatial == 2 else (n, j, c)
            out.append((at, (a, b)))
        return out

    def _window_of(self, x: np.ndarray, index: tuple[int, ...]):
        """The window of ``x`` behind output ``index``: its values ``(kh, kw)``, and its cells."""
        g = self._geometry
        if self.spatial == 2:
            n, i, j, c = index
            x4 = x
        else:
            n, j, c = index
            i, x4 = 0, x[:, None]
        rows, cols = window_cells(g, i, j, *x4.shape[1:3])
        window = x4[n, rows, cols, c]
        cells = (n, rows, cols, c) if self.spatial == 2 else (n, cols, c)
        return window, cells


class _MaxPool(_Pool):
    kind = "max"

    def fuses_after(self, before: tuple[Layer, ...]) -> int:
        if not before or type(before[-1]) is not ReLU:
            return 0
        g = self._geometry
        tiles = g.sh == g.kh and g.sw == g.kw
        if (
            len(before) >= 2
            and tiles
            and self.training  # a training step: predict's single pass gains less from it
            and isinstance(before[-2], _Convolution)
            and before[-2].spatial == self.spatial
            and before[-2].pools_with(g.kh, g.kw)
        ):
            return 2
        return 1

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._forward(x, relu=False)

    def forward_fused(self, previous: tuple[Layer, ...], x: np.ndarray) -> np.ndarray:
        previous[-1]._cache = None  # the ReLU did not run on its own: nothing to back-propagate
        if len(previous) == 1:
            return self._forward(x, relu=True)
        return self._forward_after_conv(previous[0], x)

    def _forward_after_conv(self, conv: Layer, x: np.ndarray) -> np.ndarray:
        """Convolution, ReLU and this pool in one pass: the convolution gives its outputs with
        each of the pool's window offsets in a block of its own (``forward_pooled``), so the
        maximum and the masks are taken over whole blocks, not strided views. The same values
        as the three layers one after the other."""
        g = self._geometry
        k = g.kh * g.kw
        z, Ho, Wo = conv.forward_pooled(x, g.kh, g.kw)
        if Ho <= 0 or Wo <= 0:  # the pool's own error, for the shape the convolution gives
            conv_out = conv._cache[2:4]
            shape = (len(np.asarray(x)), *conv_out, conv.out_channels)
            self._to_4d(np.zeros(shape if self.spatial == 2 else (shape[0], shape[2], shape[3])))
        step = conv._cache[5][4]
        N, F = len(z) // (Ho * Wo * k), conv.out_channels
        P = Ho * Wo
        out = np.empty((N * P, F), dtype=z.dtype)
        masks = self._scratch("masks", z.shape, _BOOL)
        zeros = self._scratch("zeros", (step * P, F), z.dtype, fill=0)
        remaining = self._scratch("remaining", (step * P, F), _BOOL)
        for start in range(0, N, step):
            n = min(N, start + step) - start
            rows = slice(start * P * k, (start + n) * P * k)
            blocks = z[rows].reshape(k, n * P, F)
            m = out[start * P : (start + n) * P]
            np.maximum(blocks[0], zeros[: n * P], out=m)  # max(0, …): the ReLU
            for v in blocks[1:]:
                np.maximum(m, v, out=m)
            self._first_maxima(list(blocks), m, masks[rows].reshape(k, n * P, F),
                               remaining[: n * P], relu=True)  # fmt: skip
        self._cache = (None, Ho, Wo, masks, ("conv", conv, N, step))
        out = out.reshape(N, Ho, Wo, F)
        return self._out(out)

    def _forward(self, x, relu: bool) -> np.ndarray:
        x4, Ho, Wo = self._to_4d(x)
        g = self._geometry
        views = [offset_view(x4, g, a, b, Ho, Wo) for a in range(g.kh) for b in range(g.kw)]
        if relu:
            # max(0, max over the window) = the pool of ReLU's output, without computing it
            m = np.maximum(views[0], self._scratch("zeros", views[0].shape, x4.dtype, fill=0))
            rest = views[1:]
        else:
            m, rest = views[0].copy(), views[1:]
        for v in rest:
            np.maximum(m, v, out=m)
        masks = self._masks(views, m, relu) if self.training else None
        self._cache = (x4, Ho, Wo, masks, relu)
        return self._out(m)

    def _masks(self, views, m: np.ndarray, relu: bool) -> np.ndarray:
        """For each kernel offset, where that offset holds its window's first maximum in row-major
        order (PyTorch's rule for ties); with ``relu``, nowhere for a window whose maximum is ≤ 0
        (ReLU passes no gradient there)."""
        masks = self._scratch("masks", (len(views), *m.shape), _BOOL)
        remaining = self._scratch("remaining", m.shape, _BOOL)
        self._first_maxima(views, m, masks, remaining, relu)
        return masks

    @staticmethod
    def _first_maxima(views, m, masks, remaining, relu: bool) -> None:
        """``masks[o]``: where ``views[o]`` holds the first of the maxima ``m``, offsets in
        row-major order; with ``relu``, nowhere that ``m`` ≤ 0."""
        if relu:
            np.greater(m, 0, out=remaining)
        else:
            remaining.fill(True)
        last = len(views) - 1
        for o, v in enumerate(views):
            if o == last:  # the maximum is somewhere: where no earlier offset held it, here
                np.copyto(masks[o], remaining)
                break
            np.equal(v, m, out=masks[o])
            masks[o] &= remaining
            remaining ^= masks[o]  # remaining and not masks[o], since masks[o] ⊆ remaining

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cached("_cache")[4]:
            raise RuntimeError(
                f"{self!r} ran fused with the layers before it; back-propagate through the "
                "Sequential that holds them"
            )
        return self._backward(grad_out)

    def backward_fused(
        self, previous: tuple[Layer, ...], grad_out: np.ndarray, input_grad: bool = True
    ) -> np.ndarray | None:
        fused = self._cached("_cache")[4]
        if not fused:
            raise RuntimeError(f"{self!r}.backward_fused called after a forward of its own")
        if fused is True:
            dx = self._backward(grad_out)
            return dx if input_grad else None
        _, conv, N, step = fused
        _, Ho, Wo, masks, _ = self._cache
        g = self._geometry
        k, P, F = g.kh * g.kw, Ho * Wo, conv.out_channels
        shape = (N, Ho, Wo, F) if self.spatial == 2 else (N, Wo, F)
        grad = self._check_grad_out(grad_out, shape, conv.weight.data.dtype).reshape(N * P, F)
        dZ = np.empty(masks.shape, dtype=grad.dtype)
        for start in range(0, N, step):
            n = min(N, start + step) - start
            rows = slice(start * P * k, (start + n) * P * k)
            # each window's gradient to its first maximum, in the convolution's row order
            np.multiply(grad[start * P : (start + n) * P], masks[rows].reshape(k, n * P, F),
                        out=dZ[rows].reshape(k, n * P, F))  # fmt: skip
        return conv.backward_pooled(dZ, input_grad)

    def _backward(self, grad_out) -> np.ndarray:
        x4, Ho, Wo, masks, relu = self._cached("_cache")
        g4 = self._grad(grad_out, x4.shape, Ho, Wo, x4.dtype)
        if masks is None:  # the forward ran in evaluation mode: find the maxima now
            g = self._geometry
            views = [offset_view(x4, g, a, b, Ho, Wo) for a in range(g.kh) for b in range(g.kw)]
            m = views[0].copy() if not relu else np.maximum(views[0], 0)
            for v in views[1:]:
                np.maximum(m, v, out=m)
            masks = self._masks(views, m, relu)

        def piece(offset, out):
            # g · mask rather than np.where(mask, g, 0): several times faster
            return np.multiply(g4, masks[offset], out=out)

        return self._out(self._spread(x4.shape, Ho, Wo, x4.dtype, piece))

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        at_x, at_y, over = self._where()
        size = self._size_text()
        return (
            Formula(
                "forward",
                "output",
                f"{{y}}[{at_y}] = max_({over}) {{x}}[{at_x}]",
                f"Max-pooling: the largest value of each {size} window, channel by channel",
                ("input",),
                self._worked,
            ),
            Formula(
                "backward",
                "input_grad",
                f"{{dx}}[{at_x}] = {{dy}}[{at_y}] where ({over}) is the first maximum of window "
                f"({at_y.replace('n, ', '').replace(', c', '')}) in row-major order, else 0",
                "Loss w.r.t. the pool's input: each window's gradient goes to its largest value "
                "(the first one, when several are equal), the others get 0",
                ("grad_out", "input"),
                self._worked_grad,
            ),
        )

    def _size_text(self) -> str:
        g = self._geometry
        return f"{g.kh}×{g.kw}" if self.spatial == 2 else f"{g.kw}-long"

    def _worked(self, values, index: tuple[int, ...]) -> Worked:
        window, cells = self._window_of(values["input"], index)
        flat = window.reshape(-1)
        first = int(np.argmax(flat))  # argmax returns the first maximum
        where = np.unravel_index(first, window.shape)
        at = ", ".join(str(int(w)) for w in where) if self.spatial == 2 else str(int(where[1]))
        shown = ", ".join(number(v) for v in flat)
        return Worked(
            index=index,
            lines=(
                f"{{y}}{index_text(index)} = max of window {{x}}{index_text(cells)}",
                f"= max({shown}) = {number(flat[first])}, at ({at}) in the window",
            ),
            value=float(flat[first]),
            parts=((f"window {{x}}{index_text(cells)}", window),),
            cells=(("input", cells),),
        )

    def _worked_grad(self, values, index: tuple[int, ...]) -> Worked:
        """The gradient of every window whose first maximum this cell is, summed."""
        x, dy = values["input"], values["grad_out"]
        index = tuple(int(i) for i in index)
        terms, lines, used = [], [], []
        for at, (a, b) in self._holding(dy, index):
            window, _ = self._window_of(x, at)
            first = np.unravel_index(int(np.argmax(window.reshape(-1))), window.shape)
            mine = tuple(int(v) for v in first) == ((a, b) if self.spatial == 2 else (0, b))
            if mine:
                terms.append(float(dy[at]))
                used.append(at)
            verdict = "its first maximum: takes" if mine else "not its first maximum"
            lines.append(f"window {index_text(at)}: {verdict} {{dy}}{index_text(at)}")
        value = sum(terms)
        total = " + ".join(number(t) for t in terms) if terms else "0"
        lines.append(f"{{dx}}{index_text(index)} = {total} = {number(value)}")
        return Worked(
            index=index,
            lines=tuple(lines),
            value=value,
            cells=(("input", index), *(("grad_out", at) for at in used)),
        )

    def _onnx(self, graph, path: str, x: str) -> str:
        """``MaxPool`` between two ``Transpose``s (ONNX is channels-first), in both dtypes."""
        first = onnx_channels_first(graph, x, f"{path}.to_channels_first", self.spatial)
        attributes = onnx_pool_attributes(self._geometry, self.spatial)
        del attributes["pads"]
        pooled = graph.node("MaxPool", [first], f"{path}.max_pool", **attributes)
        return onnx_channels_last(graph, pooled, f"{path}.to_channels_last", self.spatial)


class _AvgPool(_Pool):
    kind = "average"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x4, Ho, Wo = self._to_4d(x)
        g = self._geometry
        views = [offset_view(x4, g, a, b, Ho, Wo) for a in range(g.kh) for b in range(g.kw)]
        y = views[0].copy()
        for v in views[1:]:
            y += v
        y *= x4.dtype.type(1 / len(views))
        self._cache = (x4.shape, x4.dtype, Ho, Wo)
        return self._out(y)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        shape4, dtype, Ho, Wo = self._cached("_cache")
        g4 = self._grad(grad_out, shape4, Ho, Wo, dtype)
        g = self._geometry
        share = g4 * dtype.type(1 / (g.kh * g.kw))

        def piece(offset, out):
            if out is None:
                return share
            out[...] = share
            return out

        return self._out(self._spread(shape4, Ho, Wo, dtype, piece))

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        at_x, at_y, over = self._where()
        g = self._geometry
        k = g.kh * g.kw
        return (
            Formula(
                "forward",
                "output",
                f"{{y}}[{at_y}] = (1/{k}) · Σ_({over}) {{x}}[{at_x}]",
                "Average pooling: the mean of each window, channel by channel",
                ("input",),
                self._worked,
            ),
            Formula(
                "backward",
                "input_grad",
                f"{{dx}}[{at_x}] = Σ over the windows that hold it of {{dy}}[{at_y}] / {k}",
                f"Loss w.r.t. the pool's input: each window's gradient, shared equally by its {k} "
                "values",
                ("grad_out",),
                self._worked_grad,
            ),
        )

    def _worked_grad(self, values, index: tuple[int, ...]) -> Worked:
        dy = values["grad_out"]
        index = tuple(int(i) for i in index)
        g = self._geometry
        k = g.kh * g.kw
        held = [at for at, _ in self._holding(dy, index)]
        value = sum(float(dy[at]) for at in held) / k
        shares = " + ".join(f"{number(dy[at])}/{k}" for at in held) or "0"
        return Worked(
            index=index,
            lines=(
                f"{{dx}}{index_text(index)} = Σ over the {len(held)} windows that hold it of "
                f"{{dy}}[window] / {k}",
                f"= {shares} = {number(value)}",
            ),
            value=value,
            cells=tuple(("grad_out", at) for at in held),
        )

    def _worked(self, values, index: tuple[int, ...]) -> Worked:
        window, cells = self._window_of(values["input"], index)
        flat = window.reshape(-1)
        value = float(np.mean(flat, dtype=np.float64))
        return Worked(
            index=index,
            lines=(
                f"{{y}}{index_text(index)} = mean of window {{x}}{index_text(cells)}",
                f"= ({' + '.join(number(v) for v in flat)}) / {flat.size} = {number(value)}",
            ),
            value=value,
            parts=((f"window {{x}}{index_text(cells)}", window),),
            cells=(("input", cells),),
        )

    def _onnx(self, graph, path: str, x: str) -> str:
        """In float32, ``AveragePool`` between two ``Transpose``s. In float64, which
        onnxruntime's ``AveragePool`` does not take, the window's values sliced at each kernel
        offset, summed and multiplied by ``1/k²``, in double precision."""
        g = self._geometry
        if graph.dtype == np.float32:
            first = onnx_channels_first(graph, x, f"{path}.to_channels_first", self.spatial)
            attributes = onnx_pool_attributes(g, self.spatial)
            del attributes["pads"]
            pooled = graph.node("AveragePool", [first], f"{path}.average_pool", **attributes)
            return onnx_channels_last(graph, pooled, f"{path}.to_channels_last", self.spatial)
        pieces = [
            onnx_offset_slice(graph, x, f"{path}.offset_{a}_{b}", g, a, b, self.spatial)
            for a in range(g.kh)
            for b in range(g.kw)
        ]
        total = pieces[0] if len(pieces) == 1 else graph.node("Sum", pieces, f"{path}.sum")
        share = graph.tensor(f"{path}.share", np.array(1 / len(pieces)))
        return graph.node("Mul", [total, share], f"{path}.average_pool")


@register_layer
class MaxPool2D(_MaxPool):
    """Max-pooling over ``kh × kw`` windows, channels last: ``(N, H, W, C)`` → ``(N, Ho, Wo, C)``,
    ``Ho = (H − kh) // sh + 1``; ``stride`` defaults to the kernel size (windows side by side)::

        Y[n, i, j, c] = max_{a, b} X[n, i·sh + a, j·sw + b, c]

    Backward, with ``dY`` ``(N, Ho, Wo, C)``: each window's gradient goes to the position of its
    maximum, the *first* in row-major order when several are equal (PyTorch's rule), and every
    other position gets 0; where windows overlap (stride < kernel) a position adds up what each
    window gives it::

        dX[n, h, w, c] = Σ_{i, j} dY[n, i, j, c] · [(h, w) is window (i, j)'s first maximum]
                                                                                 (N, H, W, C)

    Computed per kernel offset ``(a, b)``: the strided view of every window's element at that
    offset, compared with the maxima (masks kept from forward in training), ``dY ⊙ mask``
    written into the same view of dX.
    """

    spatial = 2

    def __init__(
        self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
    ):
        self._init(kernel_size, stride)

    def to_onnx(self, graph, path: str, x: str) -> str:
        return self._onnx(graph, path, x)

    to_onnx.__doc__ = _MaxPool._onnx.__doc__


@register_layer
class AvgPool2D(_AvgPool):
    """Average pooling over ``kh × kw`` windows, channels last, ``stride`` the kernel size by
    default::

        Y[n, i, j, c] = (1 / (kh·kw)) · Σ_{a, b} X[n, i·sh + a, j·sw + b, c]

    Backward: each window shares its gradient equally among its ``kh·kw`` positions,
    ``dX[n, h, w, c] = Σ_{windows (i, j) holding (h, w)} dY[n, i, j, c] / (kh·kw)``, shape
    ``(N, H, W, C)``.
    """

    spatial = 2

    def __init__(
        self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
    ):
        self._init(kernel_size, stride)

    def to_onnx(self, graph, path: str, x: str) -> str:
        return self._onnx(graph, path, x)

    to_onnx.__doc__ = _AvgPool._onnx.__doc__


@register_layer
class MaxPool1D(_MaxPool):
    """Max-pooling over windows of ``k`` along the length, channels last: ``(N, L, C)`` →
    ``(N, Lo, C)``, ``Lo = (L − k) // s + 1``::

        Y[n, j, c] = max_b X[n, j·s + b, c]

    Backward as :class:`MaxPool2D`'s: ``dX[n, l, c] = Σ_j dY[n, j, c] · [l is window j's first
    maximum]``, ``(N, L, C)``.
    """

    spatial = 1

    def __init__(self, kernel_size: int, stride: int | None = None):
        self._init(kernel_size, stride)

    def to_onnx(self, graph, path: str, x: str) -> str:
        return self._onnx(graph, path, x)

    to_onnx.__doc__ = _MaxPool._onnx.__doc__


@register_layer
class AvgPool1D(_AvgPool):
    """Average pooling over windows of ``k`` along the length, channels last::

        Y[n, j, c] = (1/k) · Σ_b X[n, j·s + b, c]

    Backward: ``dX[n, l, c] = Σ_{windows j holding l} dY[n, j, c] / k``, ``(N, L, C)``.
    """

    spatial = 1

    def __init__(self, kernel_size: int, stride: int | None = None):
        self._init(kernel_size, stride)

    def to_onnx(self, graph, path: str, x: str) -> str:
        return self._onnx(graph, path, x)

    to_onnx.__doc__ = _AvgPool._onnx.__doc__


@register_layer
class GlobalAvgPool(Layer):
    """The mean over every axis between the batch and the channels: ``(N, H, W, C)`` → ``(N, C)``,
    ``(N, L, C)`` → ``(N, C)``. With ``P`` the number of positions (``H·W``)::

        Y[n, c] = (1/P) · Σ_p X[n, p, c]          (the positions p flattened)

    Backward: every position gets an equal share, ``dX[n, p, c] = dY[n, c] / P``, shape that of
    X.
    """

    _transient = ("_cache",)
    trace_letter = "A"
    changes_shape = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not (type(x) is np.ndarray and x.dtype.kind == "f"):
            x = as_numeric_array(x, f"{self!r} input")
            if x.dtype.kind != "f":
                x = x.astype(np.float64)
        if x.ndim < 3:
            raise ValueError(
                f"{self!r} expected input (batch, …, channels) with at least one axis of "
                f"positions between them, got shape {x.shape}"
            )
        N, C = x.shape[0], x.shape[-1]
        P = math.prod(x.shape[1:-1])
        self._cache = (x.shape, x.dtype, P)
        return x.reshape(N, P, C).mean(axis=1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        shape, dtype, P = self._cached("_cache")
        g = self._check_grad_out(grad_out, (shape[0], shape[-1]), dtype)
        dX = np.empty(shape, dtype=dtype)
        dX.reshape(shape[0], P, shape[-1])[...] = (g * dtype.type(1 / P))[:, None, :]
        return dX

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        return (
            Formula(
                "forward",
                "output",
                "{y}[n, c] = (1/P) · Σ_p {x}[n, p, c], over the P positions of each channel",
                "Global average pooling: the mean of each channel over all its positions",
                ("input",),
                self._worked,
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx}[n, p, c] = {dy}[n, c] / P",
                "Loss w.r.t. the pool's input: each channel's gradient, shared equally by its "
                "positions",
                ("grad_out", "input"),
                _worked_global_grad,
            ),
        )

    def _worked(self, values, index: tuple[int, ...]) -> Worked:
        x = values["input"]
        n, c = index
        cells = (n, *([slice(None)] * (x.ndim - 2)), c)
        window = x[cells]
        value = float(np.mean(window, dtype=np.float64))
        flat = window.reshape(-1)
        shown = " + ".join(number(v) for v in flat[:3])
        if flat.size > 3:
            shown += f" + … ({flat.size} values)"
        return Worked(
            index=index,
            lines=(
                f"{{y}}{index_text(index)} = mean of {{x}}{index_text(cells)}",
                f"= ({shown}) / {flat.size} = {number(value)}",
            ),
            value=value,
            parts=((f"{{x}}{index_text(cells)}", window),),
            cells=(("input", cells),),
        )

    def to_onnx(self, graph, path: str, x: str) -> str:
        """In float32, ``GlobalAveragePool`` between a ``Transpose`` (ONNX is channels-first) and
        a ``Flatten``. In float64, which onnxruntime's ``GlobalAveragePool`` does not take,
        ``ReduceMean`` over the positions."""
        rank = len(graph.input_shape(self)) + 1
        if graph.dtype == np.float32:
            perm = [0, rank - 1, *range(1, rank - 1)]
            first = graph.node("Transpose", [x], f"{path}.to_channels_first", perm=perm)
            pooled = graph.node("GlobalAveragePool", [first], f"{path}.global_average_pool")
            return graph.node("Flatten", [pooled], f"{path}.flatten", axis=1)
        return graph.reduce("ReduceMean", x, list(range(1, rank - 1)), f"{path}.mean", keepdims=0)


def _worked_global_grad(values, index: tuple[int, ...]) -> Worked:
    """``dX[n, p, c] = dY[n, c] / P``."""
    dy, x = values["grad_out"], values["input"]
    n, c = int(index[0]), int(index[-1])
    P = math.prod(x.shape[1:-1])
    value = float(dy[n, c]) / P
    return Worked(
        index=tuple(int(i) for i in index),
        lines=(
            f"{{dx}}{index_text(index)} = {{dy}}[{n}, {c}] / P = {number(dy[n, c])} / {P} = "
            f"{number(value)}",
        ),
        value=value,
        cells=(("grad_out", (n, c)),),
    )
