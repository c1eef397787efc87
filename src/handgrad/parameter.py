"""Trainable parameters: a value and the gradient of the loss with respect to it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ._validation import as_numeric_array, check_float_dtype


class Parameter:
    """A trainable array and its gradient.

    Attributes
    ----------
    data : ndarray
        The value, float32 or float64.
    grad : ndarray
        dL/d(data), same shape and dtype as ``data``. A layer's ``backward`` *overwrites* it
        with the gradient of the batch it last saw (it does not add to it), so no zeroing is
        needed between steps; ``zero_grad()`` sets it to zero explicitly.

    An optimizer may rebind ``data`` and ``grad`` to views of one flat buffer (see
    :class:`FlatParameters`); code that needs them must read ``param.data`` each time rather
    than keep the array it saw earlier.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data, dtype=None):
        arr = as_numeric_array(data, "Parameter data")
        dt = check_float_dtype(arr.dtype if dtype is None and arr.dtype.kind == "f" else dtype)
        self.data: np.ndarray = np.array(arr, dtype=dt, copy=True)
        self.grad: np.ndarray = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        self.grad[...] = 0

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class FlatParameters:
    """Parameters of one dtype stored back to back in one flat data buffer and one flat grad buffer.

    Each ``Parameter.data`` / ``.grad`` becomes a view into the flat buffers, so an update rule can
    run over all parameters at once (one NumPy call instead of one per array), and gradients can be
    summed across processes in one message. Parameters that already are exactly such views (built
    by an earlier ``FlatParameters`` over the same list) are kept where they are.

    If a user rebinds ``param.data`` or ``param.grad`` to a new array afterwards, :meth:`sync`
    copies the new values in and restores the views, so the flat buffers hold the current values.
    """

    def __init__(self, params: Sequence[Parameter]):
        self.params = list(params)
        if not self.params:
            raise ValueError("FlatParameters needs at least one parameter, got none")
        dtypes = {p.data.dtype for p in self.params}
        if len(dtypes) != 1:
            raise ValueError(f"FlatParameters needs one dtype, got {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop()
        sizes = [p.data.size for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        total = self.offsets[-1]
        self.data = self._adopt("data", total)
        self.grad = self._adopt("grad", total)
        self._data_views = [p.data for p in self.params]
        self._grad_views = [p.grad for p in self.params]

    def _adopt(self, attr: str, total: int) -> np.ndarray:
        arrays = [getattr(p, attr) for p in self.params]
        base = arrays[0].base
        if (
            isinstance(base, np.ndarray)
            and base.ndim == 1
            and base.size == total
            and base.dtype == self.dtype
            and all(_is_slice_of(a, base, start) for a, start in zip(arrays, self.offsets))
        ):
            return base
        flat = np.empty(total, dtype=self.dtype)
        for p, a, start, stop in zip(self.params, arrays, self.offsets, self.offsets[1:]):
            flat[start:stop] = a.ravel()
            setattr(p, attr, flat[start:stop].reshape(a.shape))
        return flat

    def sync(self) -> None:
        """Restore the views after a parameter's ``data`` or ``grad`` was rebound to a new array."""
        for p, dv, gv in zip(self.params, self._data_views, self._grad_views):
            if p.data is not dv:
                _copy_into(dv, p.data, "data")
                p.data = dv
            if p.grad is not gv:
                _copy_into(gv, p.grad, "grad")
                p.grad = gv


def _is_slice_of(arr: np.ndarray, base: np.ndarray, start: int) -> bool:
    if arr.base is not base or not arr.flags.c_contiguous:
        return False
    offset = arr.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return offset == start * base.itemsize


def _copy_into(view: np.ndarray, new, what: str) -> None:
    new = np.asarray(new)
    if new.shape != view.shape:
        raise ValueError(
            f"a parameter's {what} was replaced by an array of shape {new.shape}; "
            f"it must keep its shape {view.shape}"
        )
    view[...] = new


def group_by_dtype(params: Iterable[Parameter]) -> list[list[Parameter]]:
    """Split parameters into lists of one dtype each, keeping their order within a list."""
    groups: dict[np.dtype, list[Parameter]] = {}
    for p in params:
        groups.setdefault(p.data.dtype, []).append(p)
    return list(groups.values())
