"""Convolution layers, channels last: ``Conv2D`` on ``(batch, height, width, channels)`` and
``Conv1D`` on ``(batch, length, channels)``.

A convolution is a Dense layer applied to every window of its input: each window's values, laid
out as one row (the *im2col* matrix, one row per output position), times the kernel reshaped to a
matrix, plus the bias. That is how it is computed here, with one matrix product per pass.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._validation import as_numeric_array, check_float_dtype, check_int, make_rng
from .initializers import Initializer, get_initializer
from .layer import Formula, Layer, Worked, index_text, number, register_layer, sum_of_products
from .parameter import Parameter
from .windows import (
    Geometry,
    cells_met,
    int_pair,
    offset_view,
    one_int,
    onnx_channels_first,
    onnx_channels_last,
    onnx_offset_slice,
    onnx_pad,
    onnx_pool_attributes,
    padded_window,
    same_padding,
    window_cells,
    windows,
    windows_holding,
)

__all__ = ["Conv1D", "Conv2D"]

#: The im2col matrix is built and multiplied a chunk of samples at a time, each chunk about this
#: many bytes: it is still in the core's cache when the product reads it, which on the benchmark's
#: network makes the training step about a sixth faster than one matrix for the whole batch.
CHUNK_BYTES = 4 << 20
#: The largest im2col matrix a training forward keeps for backward (``dW = colsᵀ · dZ``). Above
#: it, backward rebuilds each chunk from the input instead: memory stays bounded whatever the
#: batch and image size (a 64→64-channel 3×3 convolution on 32×32 images would need 302 MB at
#: batch 128).
MAX_COLUMNS_BYTES = 64 << 20
#: A stride-1 convolution whose kernel row holds at least this many numbers (``kw·C_in``) is
#: computed by flat shifts (see ``_forward_by_shifts``), with no im2col matrix; a shallower
#: one (a first layer on one channel) by the im2col matrix, whose ``kh·kw·C_in`` inner
#: dimension then keeps the product from being too thin for BLAS.
SHIFT_MIN_DEPTH = 16
#: The flat shifts' buffers (the grid of Z or dZ, the products and their sums) a chunk of
#: samples holds: small enough to stay in the core's cache from a product to the sum that
#: reads it (at 4 MB the benchmark's step is about a tenth slower).
SHIFT_CHUNK_BYTES = 1 << 20


class _Convolution(Layer):
    """What Conv1D and Conv2D share: both compute in two spatial dimensions (Conv1D with a height
    of 1), channels last, weight ``(kh, kw, C_in, C_out)`` viewed as a ``(kh·kw·C_in, C_out)``
    matrix."""

    _transient = ("_cache",)
    trace_letter = "Z"
    trace_symbols: ClassVar[dict[str, str]] = {"weight": "W", "bias": "b"}
    spatial: ClassVar[int] = 2

    def _build(self, in_channels, out_channels, kernel: tuple[int, ...], init, rng, dtype):
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        dt = check_float_dtype(dtype)
        fan_in = math.prod(kernel) * self.in_channels
        shape = (*kernel, self.in_channels, self.out_channels)
        # The initialisers see the layer as the Dense it is on each window: (fan_in, C_out).
        initial = np.asarray(get_initializer(init)((fan_in, self.out_channels), make_rng(rng)))
        if initial.shape != (fan_in, self.out_channels):
            raise ValueError(
                f"init returned shape {initial.shape}, expected {(fan_in, self.out_channels)}"
            )
        self.weight = Parameter(initial.reshape(shape), dtype=dt)
        self.bias = Parameter(np.zeros(self.out_channels), dtype=dt)
        self._cache = None

    # Shapes ---------------------------------------------------------------------------------------

    @property
    def _geometry(self) -> Geometry:
        raise NotImplementedError

    def _kernel_text(self) -> str:
        raise NotImplementedError

    def _expected(self) -> str:
        raise NotImplementedError

    def _to_4d(self, x: np.ndarray) -> np.ndarray:
        """The input as ``(N, H, W, C)``, checked and in the layer's dtype."""
        dtype = self.weight.data.dtype
        rank = self.spatial + 2
        if not (type(x) is np.ndarray and x.dtype == dtype and x.ndim == rank):
            x = as_numeric_array(x, f"{self!r} input")
            if x.ndim != rank:
                raise ValueError(
                    f"{self!r} expected input {self._expected()}, got shape {x.shape}"
                    + self._reshape_hint(x.shape)
                )
            x = x.astype(dtype, copy=False)
        if x.shape[-1] != self.in_channels:
            raise ValueError(
                f"{self!r} expected input {self._expected()} with {self.in_channels} channel"
                f"{'s' if self.in_channels != 1 else ''} on the last axis, got shape {x.shape}"
            )
        return x if self.spatial == 2 else x[:, None]

    def _reshape_hint(self, shape: tuple[int, ...]) -> str:
        c = self.in_channels
        if len(shape) != 2 or shape[1] % c:
            return ""
        if self.spatial == 1:
            return f": add hg.Reshape(({shape[1] // c}, {c})) in front"
        side = math.isqrt(shape[1] // c)
        if side * side * c == shape[1]:
            return f": add hg.Reshape(({side}, {side}, {c})) in front"
        return f": add hg.Reshape((height, width, {c})) in front"

    def _output_hw(self, x4: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int]:
        g = self._geometry
        H, W = x4.shape[1:3]
        Ho, Wo = g.output_size(H, W)
        if Ho <= 0 or Wo <= 0:
            padded = (
                f"{H + g.top + g.bottom}×{W + g.left + g.right}"
                if self.spatial == 2
                else f"{W + g.left + g.right}"
            )
            raise ValueError(
                f"{self!r} got input of shape {shape}: its {self._kernel_text()} kernel is larger "
                f"than the padded input ({padded}), so the output would be empty"
            )
        return Ho, Wo

    def input_shape(self) -> tuple[int | None, ...]:
        return (*([None] * self.spatial), self.in_channels)

    # Forward ----------------------------------------------------------------------------------

    def _padded(self, x4: np.ndarray) -> np.ndarray:
        """``x4`` with the padding's zeros around it, in a buffer reused across calls (whose
        border is zeroed only when its shape changes), or ``x4`` itself without padding."""
        g = self._geometry
        if not g.padded:
            return x4
        N, H, W, C = x4.shape
        shape = (N, H + g.top + g.bottom, W + g.left + g.right, C)
        xp = self._prepared_scratch("padded", shape, x4.dtype, _zero)
        xp[:, g.top : g.top + H, g.left : g.left + W] = x4
        return xp

    def _columns(self, key: str, rows: int, K: int, C: int, dtype) -> np.ndarray:
        """A buffer for ``rows`` rows of the im2col matrix, as a ``(rows, K + 1)`` array whose
        last column holds ones (the bias folded into the product: the last row of the weights is
        the bias, and the last row of ``colsᵀ · dZ`` is the bias gradient). With one channel it
        is the transposed view of a ``(K + 1, rows)`` array, filled column by column."""
        if C == 1:
            return self._prepared_scratch(key, (K + 1, rows), dtype, _last_row_ones).T
        return self._prepared_scratch(key, (rows, K + 1), dtype, _last_column_ones)

    def _fill_columns(
        self, cols: np.ndarray, xp: np.ndarray, Ho: int, Wo: int, g: Geometry | None = None
    ) -> None:
        """Write the windows of the padded samples ``xp`` into ``cols`` (all but its ones).

        With more than one channel, row by row: one strided view of every window and one copy
        (each window's ``kw × C`` run is contiguous in channels-last). With one channel, column
        by column: one shifted copy of the images per kernel offset, nine long copies instead of
        a copy of runs of three. ``g``, the layer's own geometry unless given, may step further
        (the windows of one offset of a pool's, for :meth:`forward_pooled`)."""
        g = self._geometry if g is None else g
        n, C = xp.shape[0], xp.shape[3]
        if C == 1:
            columns = cols.T
            for a in range(g.kh):
                for b in range(g.kw):
                    columns[a * g.kw + b].reshape(n, Ho, Wo)[...] = offset_view(
                        xp, g, a, b, Ho, Wo
                    )[..., 0]
            return
        K1 = cols.shape[1]
        item = cols.itemsize
        rows = as_strided(
            cols,
            (n, Ho, Wo, g.kh, g.kw, C),
            (K1 * Ho * Wo * item, K1 * Wo * item, K1 * item, g.kw * C * item, C * item, item),
        )
        np.copyto(rows, windows(xp, g, Ho, Wo))

    def _weights_and_bias(self, K: int) -> np.ndarray:
        """``[W_mat; b]``, ``(kh·kw·C + 1, C_out)``: the weight as a matrix, the bias under it."""
        F = self.out_channels
        wb = self._scratch("weights_and_bias", (K + 1, F), self.weight.data.dtype)
        wb[:K] = self.weight.data.reshape(K, F)
        wb[K] = self.bias.data
        return wb

    @staticmethod
    def _step(n: int, bytes_per_sample: int, chunk_bytes: int | None = None) -> int:
        """Samples per chunk: about :data:`CHUNK_BYTES` of matrix, at least one."""
        chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        return max(1, min(n, chunk_bytes // max(1, bytes_per_sample)))

    def forward(self, x: np.ndarray) -> np.ndarray:
        shape = np.shape(x)
        x4 = self._to_4d(x)
        Ho, Wo = self._output_hw(x4, x4.shape if self.spatial == 2 else shape)
        if self._by_shifts(x4.shape[3]):
            z, _ = self._forward_by_shifts(x4, Ho, Wo, None)
            out = z.reshape(len(x4), Ho, Wo, self.out_channels)
            return out if self.spatial == 2 else out[:, 0]
        xp = self._padded(x4)
        N, C, F = x4.shape[0], x4.shape[3], self.out_channels
        g = self._geometry
        K, P = g.kh * g.kw * C, Ho * Wo
        dtype = xp.dtype
        wb = self._weights_and_bias(K)
        per_sample = P * (K + 1) * dtype.itemsize
        step = self._step(N, per_sample)
        keep = self.training and N * per_sample <= MAX_COLUMNS_BYTES
        kept = self._columns("columns", N * P, K, C, dtype) if keep else None
        z = np.empty((N * P, F), dtype=dtype)
        for start in range(0, N, step):
            stop = min(N, start + step)
            rows = slice(start * P, stop * P)
            if keep:
                cols = kept[rows]
            else:
                cols = self._columns("chunk", step * P, K, C, dtype)[: (stop - start) * P]
            self._fill_columns(cols, xp[start:stop], Ho, Wo)
            np.matmul(cols, wb, out=z[rows])  # Z = [cols 1] · [W; b], (N·Ho·Wo, C_out)
        self._cache = (xp, x4.shape, Ho, Wo, kept, None, False)
        out = z.reshape(N, Ho, Wo, F)
        return out if self.spatial == 2 else out[:, 0]

    def _by_shifts(self, C: int) -> bool:
        """Whether to compute by flat shifts (stride 1, a kernel row ``kw·C_in`` of at least
        :data:`SHIFT_MIN_DEPTH` numbers) rather than by the im2col matrix."""
        g = self._geometry
        return g.sh == g.sw == 1 and g.kw * C >= SHIFT_MIN_DEPTH

    def _grid(self, H: int, W: int, Ho: int, Wo: int) -> tuple[int, int, int]:
        """``(Hq, Wq, base)`` of the flat grid of cells the shifts work on: ``Wq`` cells a row,
        ``Hq`` rows a sample, the input's cell ``(n, h, w)`` at ``base + (n·Hq + h)·Wq + w``,
        output ``(n, i, j)`` (its window's first cell) at ``(n·Hq + i)·Wq + j``. Wider and
        taller than the input by the padding, so that a window reaching past an edge meets
        cells no input uses, and large enough that the outputs' cells are distinct."""
        g = self._geometry
        Wq = max(W + max(g.left, g.right), g.sw * (Wo - 1) + 1)
        Hq = max(H + max(g.top, g.bottom), g.sh * (Ho - 1) + 1)
        return Hq, Wq, g.top * Wq + g.left

    def _forward_by_shifts(self, x4: np.ndarray, Ho: int, Wo: int, pool) -> tuple[np.ndarray, int]:
        """Z at stride 1 without an im2col matrix; rows in :meth:`forward`'s order, or, with
        ``pool = (kh′, kw′, Ho′, Wo′)``, in :meth:`forward_pooled`'s. Returns ``(Z, step)``,
        ``step`` the samples a chunk.

        On the grid of :meth:`_grid` (the input's cells X, zero elsewhere), the window of the
        output at cell ``r`` is the cells ``r + a·Wq + b``, and ``kw`` neighbouring cells of a
        row are neighbouring rows of X. So for the cells ``r = kw·t + p`` of phase ``p < kw``,
        the cells ``r + a·Wq, …, r + a·Wq + kw − 1`` of kernel row ``a`` are one contiguous run,
        and the runs of consecutive ``t`` follow each other: a ``(T, kw·C_in)`` matrix that is a
        view of X, no copy. Then::

            Z[kw·t + p] = Σ_a X_{a,p}[t] · W_a + b     W_a = W[a] as (kw·C_in, C_out)

        ``kh`` products per phase, summed. Every cell of the grid gets a value; Z keeps those of
        the outputs, gathered in its row order."""
        N, H, W, C = x4.shape
        F = self.out_channels
        g = self._geometry
        dtype = self.weight.data.dtype
        Hq, Wq, base = self._grid(H, W, Ho, Wo)
        per = Hq * Wq  # cells a sample
        # The input on the grid, its zeros kept from call to call (the shape names the grid, so
        # a new grid gets new zeros), with room for the margin before the first cell and the
        # windows that run past the last sample's.
        margin = -(-(base + (g.kh - 1) * Wq + 2 * g.kw) // per)
        xq = self._prepared_scratch("shift_input", (N + margin, Hq, Wq, C), dtype, _zero)
        xq = xq.reshape(-1, C)
        xq[base : base + N * per].reshape(N, Hq, Wq, C)[:, :H, :W] = x4
        flat = xq.reshape(-1)
        W4 = self.weight.data if self.spatial == 2 else self.weight.data[None]
        by_row = W4.reshape(g.kh, g.kw * C, F)
        step = self._step(N, 2 * per * F * dtype.itemsize, SHIFT_CHUNK_BYTES)
        T = -(-step * per // g.kw)
        phases = self._scratch("shift_output", (g.kw, T, F), dtype)
        part = self._scratch("shift_part", (T, F), dtype)
        P = Ho * Wo if pool is None else pool[0] * pool[1] * pool[2] * pool[3]
        z = np.empty((N * P, F), dtype=dtype)
        for start in range(0, N, step):
            stop = min(N, start + step)
            cells = (stop - start) * per
            for p in range(g.kw):
                t = len(range(p, cells, g.kw))
                for a in range(g.kh):
                    first = (start * per + p + a * Wq) * C
                    run = flat[first : first + t * g.kw * C].reshape(t, g.kw * C)
                    out = phases[p, :t] if a == 0 else part[:t]
                    np.matmul(run, by_row[a], out=out)
                    if a:
                        phases[p, :t] += out
            rows = _output_cells(stop - start, Hq, Wq, Ho, Wo, pool)
            rows = (rows % g.kw) * T + rows // g.kw  # where phases keeps each cell
            np.take(phases.reshape(-1, F), rows, axis=0, out=z[start * P : stop * P], mode="clip")
        z += self.bias.data
        self._cache = (xq, x4.shape, Ho, Wo, None, None, True)
        return z, step

    def pools_with(self, kh: int, kw: int) -> bool:
        """Whether :meth:`forward_pooled` can serve a max-pool of ``kh × kw`` tiling windows."""
        return type(self) in (Conv2D, Conv1D) and (self.spatial == 2 or kh == 1)

    def forward_pooled(self, x: np.ndarray, kh: int, kw: int) -> tuple[np.ndarray, int, int]:
        """Z for a max-pool of ``kh × kw`` windows side by side that follows (through a ReLU):
        only the outputs the pool's windows cover, rows ordered so that each of the pool's
        window offsets is one contiguous block.

        Returns ``(Z, Ho′, Wo′)``, Z of shape ``(N·Ho′·Wo′·kh·kw, C_out)``: chunks of samples,
        each holding, for each window offset ``(a, b)`` in row-major order, the outputs at
        ``(kh·i + a, kw·j + b)`` for every sample of the chunk and every pooled position
        ``(i, j)``. The pool then reads whole blocks instead of strided views. The outputs the
        windows leave out (the last row when the height is odd) are not computed: no gradient
        comes back to them. The values are those ``forward`` computes, in another order.
        """
        shape = np.shape(x)
        x4 = self._to_4d(x)
        Ho, Wo = self._output_hw(x4, x4.shape if self.spatial == 2 else shape)
        Ho2, Wo2 = Ho // kh, Wo // kw
        if self._by_shifts(x4.shape[3]):
            z, step = self._forward_by_shifts(x4, Ho, Wo, (kh, kw, Ho2, Wo2))
            self._cache = (*self._cache[:5], (kh, kw, Ho2, Wo2, step), True)
            return z, Ho2, Wo2
        xp = self._padded(x4)
        N, C, F = x4.shape[0], x4.shape[3], self.out_channels
        g = self._geometry
        K, P = g.kh * g.kw * C, Ho2 * Wo2 * kh * kw
        dtype = xp.dtype
        wb = self._weights_and_bias(K)
        per_sample = P * (K + 1) * dtype.itemsize
        step = self._step(N, per_sample)
        keep = self.training and N * per_sample <= MAX_COLUMNS_BYTES
        kept = self._columns("columns", N * P, K, C, dtype) if keep else None
        z = np.empty((N * P, F), dtype=dtype)
        for start in range(0, N, step):
            stop = min(N, start + step)
            rows = slice(start * P, stop * P)
            if keep:
                cols = kept[rows]
            else:
                cols = self._columns("chunk", step * P, K, C, dtype)[: (stop - start) * P]
            self._fill_pooled(cols, xp[start:stop], Ho2, Wo2, kh, kw)
            np.matmul(cols, wb, out=z[rows])
        self._cache = (xp, x4.shape, Ho, Wo, kept, (kh, kw, Ho2, Wo2, step), False)
        return z, Ho2, Wo2

    def _fill_pooled(self, cols, xp, Ho2: int, Wo2: int, kh: int, kw: int) -> None:
        """The im2col rows of :meth:`forward_pooled` for the samples ``xp``: one block of rows
        per window offset of the pool, each the windows of outputs ``(kh·i + a, kw·j + b)``."""
        g = self._geometry
        spaced = Geometry(g.kh, g.kw, g.sh * kh, g.sw * kw)  # the windows of one offset
        block = len(xp) * Ho2 * Wo2
        for a in range(kh):
            for b in range(kw):
                o = a * kw + b
                shifted = xp[:, a * g.sh :, b * g.sw :]
                self._fill_columns(cols[o * block : (o + 1) * block], shifted, Ho2, Wo2, spaced)

    def backward_pooled(self, dZ: np.ndarray, input_grad: bool) -> np.ndarray | None:
        """The backward of :meth:`forward_pooled`: ``dZ`` in its row order; dW and db as one
        product with the columns (the order of the rows does not matter to a sum), and, with
        ``input_grad``, dX as the transposed convolution of dZ put back in place (zero where
        the pool's windows left outputs out)."""
        xp, shape4, Ho, Wo, kept, pooled, shifted = self._cached("_cache")
        if pooled is None:
            raise RuntimeError(f"{self!r}.backward_pooled called after a forward of its own")
        kh, kw, Ho2, Wo2, step = pooled
        N, C, F = shape4[0], shape4[3], self.out_channels
        P = Ho2 * Wo2 * kh * kw

        def rebuild(start, stop, cols):
            self._fill_pooled(cols, xp[start:stop], Ho2, Wo2, kh, kw)

        if not shifted:
            self._weight_grads(dZ, kept, N, P, C, step, rebuild)
            if not input_grad:
                return None

        def place(grid, start, stop):
            # dZ of samples start:stop, output (kh·i + a, kw·j + b) from block (a, b) of the
            # forward's chunks (which need not line up with the input gradient's), zero where
            # the pool's windows leave outputs out.
            for first in range(start - start % step, stop, step):
                last = min(N, first + step)
                lo, hi = max(start, first), min(stop, last)
                chunk = dZ[first * P : last * P].reshape(kh, kw, last - first, Ho2, Wo2, F)
                samples = slice(lo - start, hi - start)
                for a in range(kh):
                    for b in range(kw):
                        block = chunk[a, b, lo - first : hi - first]
                        grid[samples, a : kh * Ho2 : kh, b : kw * Wo2 : kw] = block
            grid[:, kh * Ho2 :] = 0
            grid[:, :, kw * Wo2 :] = 0

        return self._grid_backward(place, shape4, Ho, Wo, shifted, input_grad)

    # Backward ---------------------------------------------------------------------------------

    def _weight_grads(self, dZ, kept, N: int, P: int, C: int, step: int, rebuild) -> None:
        """``[dW; db] = [cols 1]ᵀ · dZ`` into the parameters' gradients: one product with the
        kept columns, or chunk by chunk with the columns rebuilt (``rebuild(start, stop,
        cols)``) when they were not kept (too large, or an evaluation-mode forward)."""
        g = self._geometry
        F = self.out_channels
        K = g.kh * g.kw * C
        dtype = dZ.dtype
        dwb = self._scratch("weights_and_bias_grad", (K + 1, F), dtype)
        if kept is not None:
            np.matmul(kept.T, dZ, out=dwb)
        else:
            part = self._scratch("weights_and_bias_part", (K + 1, F), dtype)
            for start in range(0, N, step):
                stop = min(N, start + step)
                cols = self._columns("chunk", step * P, K, C, dtype)[: (stop - start) * P]
                rebuild(start, stop, cols)
                np.matmul(cols.T, dZ[start * P : stop * P], out=dwb if start == 0 else part)
                if start:
                    dwb += part
        self.weight.grad.reshape(K, F)[...] = dwb[:K]  # dW = colsᵀ · dZ
        self.bias.grad[...] = dwb[K]  # db = 1ᵀ · dZ

    def _param_grads(self, grad_out, input_grad: bool) -> np.ndarray | None:
        xp, shape4, Ho, Wo, kept, pooled, shifted = self._cached("_cache")
        if pooled is not None:
            raise RuntimeError(
                f"{self!r} ran fused with the ReLU and the max-pool after it; back-propagate "
                "through the Sequential that holds them"
            )
        N, C, F = shape4[0], shape4[3], self.out_channels
        out_shape = (N, Ho, Wo, F) if self.spatial == 2 else (N, Wo, F)
        P = Ho * Wo
        dZ = self._check_grad_out(grad_out, out_shape, xp.dtype).reshape(N * P, F)
        if not shifted:
            g = self._geometry
            step = self._step(N, P * (g.kh * g.kw * C + 1) * xp.dtype.itemsize)

            def rebuild(start, stop, cols):
                self._fill_columns(cols, xp[start:stop], Ho, Wo)

            self._weight_grads(dZ, kept, N, P, C, step, rebuild)
            if not input_grad:
                return None
        dZ4 = dZ.reshape(N, Ho, Wo, F)

        def place(grid, start, stop):
            grid[...] = dZ4[start:stop]

        return self._grid_backward(place, shape4, Ho, Wo, shifted, input_grad)

    def backward_params(self, grad_out: np.ndarray) -> None:
        self._param_grads(grad_out, input_grad=False)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return self._param_grads(grad_out, input_grad=True)

    def _grid_backward(
        self, place, shape4, Ho: int, Wo: int, weights: bool, input_grad: bool
    ) -> np.ndarray | None:
        """From dZ on the grid of :meth:`_grid`, a chunk of samples at a time: with ``weights``
        (a forward by shifts), dW and db; with ``input_grad``, dX ``(N, H, W, C_in)``.
        ``place(grid, start, stop)`` writes dZ for samples ``start:stop`` into ``grid``, a
        ``(stop − start, Ho, Wo, C_out)`` view of the grid G (so dZ goes there in one pass, in
        whatever row order it came); G is zero elsewhere.

        dW is the forward's products transposed, on the same views of the input's grid::

            dW[a] = Σ_p X_{a,p}ᵀ · G[p::kw]      (kw·C_in, C_out)        db = 1ᵀ · G

        (every cell that is not an output's has dZ = 0 there, so adds nothing).

        Each output's gradient, times the kernel, lands on the inputs of its window::

            dX[n, i·sh − pt + a, j·sw − pl + b, :] += W[a, b] · dZ[n, i, j, :]    (C_in,)

        Laid out on a grid of cells in the input's coordinates, ``Wq`` cells a row and ``Hq``
        rows a sample, wider and taller than the input by the padding (so that a window reaching
        past an edge lands on cells no input uses), a cell's flat index is ``(n·Hq + h)·Wq + w``
        and kernel offset ``(a, b)`` moves every window's share by the same ``a·Wq + b`` cells.
        G holds dZ at the cells where the windows start, zero elsewhere; then::

            X[r + a·Wq + b] += G[r] · W[a, b]ᵀ        for every cell r

        and ``kw`` neighbouring cells of a row are ``kw`` neighbouring flat indices. So for each
        kernel row ``a`` and each phase ``p < kw`` (the cells ``r = kw·t + p``)::

            Y = G[p::kw] · W_a         (T, C_out) · (C_out, kw·C_in)
            W_a[f, (b, c)] = W[a, b, c, f]

        row ``t`` of Y is the share of cells ``kw·t + p + a·Wq + b`` for ``b < kw``, consecutive
        cells, so Y is added to one contiguous run of X: ``kh·kw`` products and additions in all,
        no im2col matrix. dX is X at the input's cells.
        """
        N, H, W, C = shape4
        F = self.out_channels
        g = self._geometry
        dtype = self.weight.data.dtype
        item = dtype.itemsize
        W4 = self.weight.data if self.spatial == 2 else self.weight.data[None]
        by_row = np.ascontiguousarray(W4.transpose(0, 3, 1, 2)).reshape(g.kh, F, g.kw * C)
        Hq, Wq, base = self._grid(H, W, Ho, Wo)
        per = Hq * Wq  # cells a sample
        step = self._step(N, per * (F + 2 * C) * item, SHIFT_CHUNK_BYTES)
        reach = (g.kh - 1) * Wq + g.kw  # how far past the last cell a window's share lands
        # One buffer of a chunk's size; a shorter last chunk takes its first cells, whose zeros
        # are where they were.
        spread = self._prepared_scratch("spread", (step, Hq, Wq, F), dtype, _zero)
        spread = spread.reshape(-1, F)
        X_all = self._scratch("spread_sum", (max(step * per + reach, base + step * per), C), dtype)
        Y_all = self._scratch("spread_share", (-(-step * per // g.kw), g.kw * C), dtype)
        if weights:
            flat = self._cache[0].reshape(-1)  # the input on the grid, from the forward
            dW = self._scratch("shift_weight_grad", (g.kh, g.kw * C, F), dtype)
            dW.fill(0)
            dW_part = self._scratch("shift_weight_part", (g.kw * C, F), dtype)
            db = self._scratch("shift_bias_grad", (F,), dtype)
            db.fill(0)
            db_part = self._scratch("shift_bias_part", (F,), dtype)
            ones = self._scratch("ones", (step * per,), dtype, fill=1)
        dX = np.empty((N, H, W, C), dtype=dtype) if input_grad else None
        for start in range(0, N, step):
            stop = min(N, start + step)
            n = stop - start
            cells = n * per
            G = spread[:cells]
            place(
                as_strided(  # the cells where the windows start, (n, Ho, Wo, C_out)
                    G, (n, Ho, Wo, F), (per * F * item, g.sh * Wq * F * item, g.sw * F * item, item)
                ),
                start,
                stop,
            )
            if weights:
                for p in range(min(g.kw, cells)):
                    rows = G[p :: g.kw]  # strided rows BLAS reads as they are
                    t = len(rows)
                    for a in range(g.kh):
                        first = (start * per + p + a * Wq) * C
                        run = flat[first : first + t * g.kw * C].reshape(t, g.kw * C)
                        np.matmul(run.T, rows, out=dW_part)
                        dW[a] += dW_part
                np.matmul(ones[:cells], G, out=db_part)
                db += db_part
            if not input_grad:
                continue
            X = X_all[: max(cells + reach, base + cells)]
            X.fill(0)
            for p in range(min(g.kw, cells)):
                rows = G[p :: g.kw]
                Y = Y_all[: len(rows)]
                for a in range(g.kh):
                    np.matmul(rows, by_row[a], out=Y)
                    first = p + a * Wq
                    X[first : first + g.kw * len(rows)].reshape(Y.shape)[...] += Y
            dX[start:stop] = X[base : base + cells].reshape(n, Hq, Wq, C)[:, :H, :W]
        if weights:
            self.weight.grad.reshape(dW.shape)[...] = dW
            self.bias.grad[...] = db
        if dX is None:
            return None
        return dX if self.spatial == 2 else dX[:, 0]

    # What the layer says about itself ---------------------------------------------------------

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        c_in, c_out = config.get("in_channels"), config.get("out_channels")
        kernel = config.get("kernel_size")
        sizes = kernel if isinstance(kernel, list) else [kernel]
        if not (
            type(c_in) is int
            and type(c_out) is int
            and c_in > 0
            and c_out > 0
            and all(type(k) is int and k > 0 for k in sizes)
        ):
            raise ValueError(f"a {cls.__name__} needs positive integer channels and kernel_size")
        if len(sizes) == 1 and cls.spatial == 2:
            sizes = sizes * 2
        return math.prod(sizes) * c_in * c_out + c_out

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> _Convolution:
        config = dict(config)
        for key in ("kernel_size", "stride", "padding"):
            if isinstance(config.get(key), list):
                config[key] = tuple(config[key])
        return cls(**config, init="zeros")  # the weights are about to be overwritten

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        g = self._geometry
        two = self.spatial == 2
        at = "n, i, j" if two else "n, j"
        i = "i + a" if g.sh == 1 else f"i·{g.sh} + a"
        j = "j + b" if g.sw == 1 else f"j·{g.sw} + b"
        pos = f"n, {i}, {j}, c" if two else f"n, {j}, c"
        kernel = "a, b, c, f" if two else "b, c, f"
        over = "a, b, c" if two else "b, c"
        padded = "{x}" if not g.padded else "{x}⁰"
        pad_note = "" if not g.padded else " ({x}⁰ is {x} with the padding's zeros around it)"
        return (
            Formula(
                "forward",
                "output",
                f"{{y}}[{at}, f] = Σ_({over}) {padded}[{pos}] · {{weight}}[{kernel}] + {{bias}}[f]",
                "Convolution: each output is one window of the input times the kernel, summed, "
                f"plus the bias{pad_note}",
                ("input", "weight", "bias"),
                self._worked_output,
            ),
            Formula(
                "backward",
                "weight",
                f"dL/d{{weight}}[{kernel}] = Σ_({at}) {padded}[{pos}] · {{dy}}[{at}, f]",
                "Loss w.r.t. weight: each kernel weight meets one input per output position, "
                "times that output's gradient, summed over positions and samples (colsᵀ · dZ)",
                ("input", "grad_out"),
                self._worked_weight_grad,
            ),
            Formula(
                "backward",
                "bias",
                f"dL/d{{bias}}[f] = Σ_({at}) {{dy}}[{at}, f]",
                "Loss w.r.t. bias: the gradient of every output of the channel, summed over the "
                "positions and the samples",
                ("grad_out",),
                self._worked_bias_grad,
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx} = the transposed convolution of {dy} with {weight}: each input gets, from "
                "every window it is in, that output's gradient times the kernel weight it met",
                None,
                ("grad_out", "weight"),
                self._worked_input_grad,
            ),
        )

    def _worked_output(self, values, index: tuple[int, ...]) -> Worked:
        x, W, b = values["input"], values["weight"], values["bias"]
        g = self._geometry
        if self.spatial == 2:
            n, i, j, f = index
            x4, W4 = x, W
        else:
            n, j, f = index
            i = 0
            x4, W4 = x[:, None], W[None]
        H, Wd = x4.shape[1:3]
        window = padded_window(x4, g, n, i, j)
        kernel = W4[..., f]
        dot = float(np.sum(window * kernel, dtype=np.float64))
        value = dot + float(b[f])
        rows, cols = window_cells(g, i, j, H, Wd)
        inside = (rows.stop - rows.start) * (cols.stop - cols.start) == g.kh * g.kw
        zeros = "" if inside else " (zero-padded where it reaches past the edge)"
        C = x4.shape[3]
        if self.spatial == 2:
            where = (n, rows, cols, slice(None))
            kernel_index = (slice(None), slice(None), slice(None), f)
            shape_note = f"{g.kh}×{g.kw} positions × {C} channel{'s' if C != 1 else ''}"
        else:
            where = (n, cols, slice(None))
            kernel_index = (slice(None), slice(None), f)
            shape_note = f"{g.kw} positions × {C} channel{'s' if C != 1 else ''}"
        return Worked(
            index=index,
            lines=(
                f"{{y}}{index_text(index)} = Σ window ⊙ kernel + {{bias}}[{f}]",
                f"window = {{x}}{index_text(where)}{zeros}, kernel = {{weight}}"
                f"{index_text(kernel_index)} ({shape_note})",
                f"= {sum_of_products(window, kernel)} + {number(b[f])}",
                f"= {number(dot)} + {number(b[f])} = {number(value)}",
            ),
            value=value,
            parts=(
                ("window of {x}, rows: positions, columns: channels", window.reshape(-1, C)),
                (f"kernel {{weight}}{index_text(kernel_index)}", kernel.reshape(-1, C)),
            ),
            cells=(("input", where), ("weight", kernel_index), ("bias", (f,))),
        )

    def _index_back(self, index4: tuple) -> tuple:
        """An index into a 2-D view back to the layer's own (drop the height of 1)."""
        return index4 if self.spatial == 2 else (index4[0], *index4[2:])

    def _worked_weight_grad(self, values, index: tuple[int, ...]) -> Worked:
        """``dW[a, b, c, f] = Σ_(n, i, j) X⁰[n, i·sh + a, j·sw + b, c] · dZ[n, i, j, f]``: the
        windows whose offset (a, b) falls on the padding add nothing."""
        g = self._geometry
        x4, dZ4 = (values["input"], values["grad_out"]) if self.spatial == 2 else (
            values["input"][:, None], values["grad_out"][:, None]
        )  # fmt: skip
        a, b, c, f = index if self.spatial == 2 else (0, *index)
        H, Wd = x4.shape[1:3]
        Ho, Wo = dZ4.shape[1:3]
        head = (
            f"dL/d{{weight}}{index_text(index)} = Σ_(n, i, j) {{x}}⁰[n, i·{g.sh} + {a}, "
            f"j·{g.sw} + {b}, {c}] · {{dy}}[n, i, j, {f}]"
        )
        met = cells_met(g, a, b, H, Wd, Ho, Wo)
        if met is None:
            return Worked(index=index, lines=(head, "= 0 (every such cell is padding)"), value=0.0)
        irange, jrange, rows, cols = met
        inputs = x4[:, rows, cols, c]
        grads = dZ4[:, irange, jrange, f]
        total = float(np.sum(inputs.astype(np.float64) * grads, dtype=np.float64))
        pad = "" if inputs[0].size == Ho * Wo else " (the windows whose cell is padding add 0)"
        x_cells = self._index_back((slice(None), rows, cols, c))
        g_cells = self._index_back((slice(None), irange, jrange, f))
        return Worked(
            index=index,
            lines=(head + pad, f"= {sum_of_products(inputs, grads)}", f"= {number(total)}"),
            value=total,
            cells=(("input", x_cells), ("grad_out", g_cells)),
        )

    def _worked_bias_grad(self, values, index: tuple[int, ...]) -> Worked:
        dZ = values["grad_out"]
        (f,) = index
        column = dZ[..., f].astype(np.float64).reshape(-1)
        total = float(column.sum())
        terms = " + ".join(number(v) for v in column[:4])
        if column.size > 4:
            terms += f" + … ({column.size} terms in all)"
        where = (*([slice(None)] * (dZ.ndim - 1)), f)
        return Worked(
            index=index,
            lines=(
                f"dL/d{{bias}}[{f}] = Σ {{dy}}{index_text(where)} = {terms}",
                f"= {number(total)}",
            ),
            value=total,
            cells=(("grad_out", where),),
        )

    def _worked_input_grad(self, values, index: tuple[int, ...]) -> Worked:
        """``dX[n, r, s, c] = Σ over the windows (i, j) that hold it, Σ_f dZ[n, i, j, f] ·
        W[a, b, c, f]``, (a, b) where the cell sits in window (i, j)."""
        g = self._geometry
        W4 = values["weight"] if self.spatial == 2 else values["weight"][None]
        dZ4 = values["grad_out"] if self.spatial == 2 else values["grad_out"][:, None]
        n, r, s, c = index if self.spatial == 2 else (index[0], 0, *index[1:])
        Ho, Wo = dZ4.shape[1:3]
        held = windows_holding(g, r, s, Ho, Wo)
        if not held:  # a stride longer than the kernel skips it
            return Worked(
                index=index,
                lines=(f"{{dx}}{index_text(index)} = 0 (no window holds it)",),
                value=0.0,
            )
        grads = np.array([dZ4[n, i, j, :] for i, j, _, _ in held]).reshape(-1)
        weights = np.array([W4[a, b, c, :] for _, _, a, b in held]).reshape(-1)
        total = float(np.dot(grads.astype(np.float64), weights.astype(np.float64)))
        i0, i1 = min(h[0] for h in held), max(h[0] for h in held) + 1
        j0, j1 = min(h[1] for h in held), max(h[1] for h in held) + 1
        a0, a1 = min(h[2] for h in held), max(h[2] for h in held) + 1
        b0, b1 = min(h[3] for h in held), max(h[3] for h in held) + 1
        g_cells = self._index_back((n, slice(i0, i1), slice(j0, j1), slice(None)))
        w_cells = (
            (slice(a0, a1), slice(b0, b1), c, slice(None))
            if self.spatial == 2
            else (slice(b0, b1), c, slice(None))
        )
        windows = ", ".join(f"({i}, {j})" for i, j, _, _ in held[:6])
        if len(held) > 6:
            windows += ", …"
        return Worked(
            index=index,
            lines=(
                f"{{dx}}{index_text(index)} = Σ over the {len(held)} windows that hold it "
                f"({windows}), Σ_f {{dy}}[{n}, i, j, f] · {{weight}}[a, b, {c}, f]",
                f"= {sum_of_products(grads, weights)}",
                f"= {number(total)}",
            ),
            value=total,
            cells=(("grad_out", g_cells), ("weight", w_cells)),
        )

    def _onnx(self, graph, path: str, x: str) -> str:
        """In float32, ``Conv`` between two ``Transpose``s (ONNX is channels-first), the kernel
        stored as ONNX wants it, ``(C_out, C_in, kh, kw)``. In float64, which onnxruntime's
        ``Conv`` does not take, the same sum written out: the padded input sliced at each kernel
        offset, each slice times that offset's ``(C_in, C_out)`` weights (``MatMul``), summed,
        plus the bias; every product and sum in double precision."""
        g = self._geometry
        spatial = self.spatial
        if graph.dtype == np.float32:
            order = (3, 2, 0, 1) if spatial == 2 else (2, 1, 0)
            weight = graph.tensor(f"{path}.weight", self.weight.data.transpose(order))
            bias = graph.tensor(f"{path}.bias", self.bias.data)
            first = onnx_channels_first(graph, x, f"{path}.to_channels_first", spatial)
            conv = graph.node(
                "Conv", [first, weight, bias], f"{path}.conv", **onnx_pool_attributes(g, spatial)
            )
            return onnx_channels_last(graph, conv, f"{path}.to_channels_last", spatial)
        padded = onnx_pad(graph, x, f"{path}.pad", g, spatial)
        W4 = self.weight.data if spatial == 2 else self.weight.data[None]
        terms = []
        for a in range(g.kh):
            for b in range(g.kw):
                piece = onnx_offset_slice(graph, padded, f"{path}.offset_{a}_{b}", g, a, b, spatial)
                w = graph.tensor(f"{path}.weight_{a}_{b}", W4[a, b])
                terms.append(graph.node("MatMul", [piece, w], f"{path}.product_{a}_{b}"))
        total = terms[0] if len(terms) == 1 else graph.node("Sum", terms, f"{path}.sum")
        return graph.node(
            "Add", [total, graph.tensor(f"{path}.bias", self.bias.data)], f"{path}.conv"
        )


def _output_cells(n: int, Hq: int, Wq: int, Ho: int, Wo: int, pool) -> np.ndarray:
    """The grid cells of ``n`` samples' outputs, in Z's row order: ``(n, Ho, Wo)``, or with
    ``pool = (kh, kw, Ho′, Wo′)`` the pool's window offsets first, ``(kh, kw, n, Ho′, Wo′)``."""
    samples = np.arange(n)[:, None, None] * (Hq * Wq)
    if pool is None:
        return (samples + np.arange(Ho)[:, None] * Wq + np.arange(Wo)).reshape(-1)
    kh, kw, Ho2, Wo2 = pool
    corners = samples + np.arange(Ho2)[:, None] * (kh * Wq) + np.arange(Wo2) * kw
    offsets = np.arange(kh)[:, None] * Wq + np.arange(kw)
    return (offsets.reshape(-1, 1, 1, 1) + corners).reshape(-1)


def _zero(a: np.ndarray) -> None:
    a.fill(0)


def _last_row_ones(a: np.ndarray) -> None:
    a[-1] = 1


def _last_column_ones(a: np.ndarray) -> None:
    a[:, -1] = 1


def _padding_2d(padding, kernel: tuple[int, int], stride: tuple[int, int], owner: str):
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f"{owner}: padding must be an int, a pair or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(
                f"{owner}: padding='same' keeps the size only at stride 1, got stride {stride}; "
                "give the padding as numbers"
            )
        return "same", (*same_padding(kernel[0]), *same_padding(kernel[1]))
    ph, pw = int_pair(padding, "padding", 0)
    return (ph, pw), (ph, ph, pw, pw)


@register_layer
class Conv2D(_Convolution):
    """2-D convolution, channels last: ``(batch, height, width, C_in)`` →
    ``(batch, Ho, Wo, C_out)``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (kh, kw)
    stride : int or (sh, sw)
        How far the window moves; ``Ho = (H + 2·ph − kh) // sh + 1``.
    padding : int, (ph, pw) or "same"
        Zeros added around the image; ``"same"`` (stride 1 only) keeps ``Ho = H``, ``Wo = W``.
    init, rng, dtype
        As for :class:`Dense`: the weights start as those of a Dense layer with
        ``kh·kw·C_in`` inputs and ``C_out`` outputs; the bias starts at zero.

    Shapes: ``W = weight (kh, kw, C_in, C_out)``, ``b = bias (C_out,)``. With ``X⁰`` the input
    padded with zeros::

        Z[n, i, j, f] = Σ_{a, b, c} X⁰[n, i·sh + a, j·sw + b, c] · W[a, b, c, f] + b[f]

    Computed as Dense on windows: ``cols`` ``(N·Ho·Wo, kh·kw·C_in)`` holds one window per row
    (im2col, one strided view and one copy), ``Z = cols · W_mat + b`` with ``W_mat`` the weight
    reshaped to ``(kh·kw·C_in, C_out)``. At stride 1 with a kernel row of at least
    :data:`SHIFT_MIN_DEPTH` numbers, the same sum without the matrix: on a flat grid of the
    input's cells each kernel row of every window is a contiguous run, so the windows of a
    kernel row are a view of the input, and Z is ``kh·kw`` products with those views (see
    ``_forward_by_shifts``); dW is the same products transposed.

    Backward, with ``dZ`` ``(N·Ho·Wo, C_out)``::

        dW = colsᵀ · dZ                 (kh·kw·C_in, C_out)   the kept im2col matrix, one GEMM
                                        (by shifts: Σ over the views, see _grid_backward)
        db = 1ᵀ · dZ                    (C_out,)
        dX[n, h, w, c] = Σ_{i, j, f} dZ[n, i, j, f] · W[h + ph − i·sh, w + pw − j·sw, c, f]
                                        (N, H, W, C_in)       over the windows that cover (h, w)

    dX is the transposed convolution: each output's gradient times the kernel, ``W[a, b] ·
    dZ[n, i, j]``, added to the input its window met at offset ``(a, b)``. It is computed without
    an im2col matrix: on a flat grid of the input's cells, an offset is one shift of every
    window, and ``kw`` neighbouring cells of a row are neighbouring rows, so each kernel row
    and each of ``kw`` phases is one product ``(T, C_out) · (C_out, kw·C_in)`` added to a
    contiguous run of the result (see ``_grid_backward``).
    """

    spatial = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        init: str | Initializer = "he",
        rng: np.random.Generator | int | None = None,
        dtype=np.float64,
    ):
        self.kernel_size = int_pair(kernel_size, "kernel_size", 1)
        self.stride = int_pair(stride, "stride", 1)
        owner = f"Conv2D({in_channels}→{out_channels}, {self.kernel_size[0]}×{self.kernel_size[1]})"
        self.padding, pads = _padding_2d(padding, self.kernel_size, self.stride, owner)
        self._pads = pads
        self._build(in_channels, out_channels, self.kernel_size, init, rng, dtype)

    @property
    def _geometry(self) -> Geometry:
        return Geometry(*self.kernel_size, *self.stride, *self._pads)

    def _kernel_text(self) -> str:
        return f"{self.kernel_size[0]}×{self.kernel_size[1]}"

    def to_onnx(self, graph, path: str, x: str) -> str:
        return self._onnx(graph, path, x)

    to_onnx.__doc__ = _Convolution._onnx.__doc__

    def _expected(self) -> str:
        return f"(batch, height, width, {self.in_channels})"

    def get_config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dtype": str(self.weight.data.dtype),
        }

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        kh, kw = _pair_of(config.get("kernel_size"))
        text = f"Conv2D({config.get('in_channels')}→{config.get('out_channels')}, {kh}×{kw}"
        stride = _pair_of(config.get("stride", 1))
        if stride != (1, 1):
            text += f", stride {stride[0]}" if stride[0] == stride[1] else f", stride {stride}"
        padding = config.get("padding", 0)
        if padding == "same":
            text += ", padding same"
        elif _pair_of(padding) != (0, 0):
            p = _pair_of(padding)
            text += f", padding {p[0]}" if p[0] == p[1] else f", padding {p}"
        return text + ")"


@register_layer
class Conv1D(_Convolution):
    """1-D convolution, channels last: ``(batch, length, C_in)`` → ``(batch, Lo, C_out)``.

    Parameters as :class:`Conv2D`, each a single int (``padding`` also ``"same"``, stride 1).
    ``W = weight (k, C_in, C_out)``, ``b = bias (C_out,)``; with ``X⁰`` the input padded::

        Z[n, j, f] = Σ_{b, c} X⁰[n, j·s + b, c] · W[b, c, f] + b[f],   Lo = (L + 2p − k) // s + 1

    Backward as Conv2D's with a height of 1 (it is computed by the same code)::

        dW = colsᵀ · dZ      (k·C_in, C_out)
        db = 1ᵀ · dZ         (C_out,)
        dX[n, l, c] = Σ_{j, f} dZ[n, j, f] · W[l + p − j·s, c, f]      (N, L, C_in)
    """

    spatial = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int | str = 0,
        init: str | Initializer = "he",
        rng: np.random.Generator | int | None = None,
        dtype=np.float64,
    ):
        self.kernel_size = one_int(kernel_size, "kernel_size", 1)
        self.stride = one_int(stride, "stride", 1)
        owner = f"Conv1D({in_channels}→{out_channels}, {self.kernel_size})"
        if isinstance(padding, str):
            if padding != "same":
                raise ValueError(f"{owner}: padding must be an int or 'same', got {padding!r}")
            if self.stride != 1:
                raise ValueError(
                    f"{owner}: padding='same' keeps the length only at stride 1, got stride "
                    f"{self.stride}; give the padding as a number"
                )
            self.padding = "same"
            self._pads = (0, 0, *same_padding(self.kernel_size))
        else:
            self.padding = one_int(padding, "padding", 0)
            self._pads = (0, 0, self.padding, self.padding)
        self._build(in_channels, out_channels, (self.kernel_size,), init, rng, dtype)

    @property
    def _geometry(self) -> Geometry:
        return Geometry(1, self.kernel_size, 1, self.stride, *self._pads)

    def _kernel_text(self) -> str:
        return f"{self.kernel_size}"

    def to_onnx(self, graph, path: str, x: str) -> str:
        return self._onnx(graph, path, x)

    to_onnx.__doc__ = _Convolution._onnx.__doc__

    def _expected(self) -> str:
        return f"(batch, length, {self.in_channels})"

    def get_config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "dtype": str(self.weight.data.dtype),
        }

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        text = (
            f"Conv1D({config.get('in_channels')}→{config.get('out_channels')}, "
            f"{config.get('kernel_size')}"
        )
        if config.get("stride", 1) != 1:
            text += f", stride {config.get('stride')}"
        if config.get("padding", 0) not in (0, None):
            text += f", padding {config.get('padding')}"
        return text + ")"


def _pair_of(value) -> tuple:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return tuple(value)
    return (value, value)
