"""Flat parameter buffers: the parameters of one dtype back to back in one array, so that an update
rule runs over all of them in one NumPy call and a gradient sum crosses processes in one message."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..nn.parameter import Parameter


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
