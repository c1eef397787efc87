"""Trainable parameters (a value and the gradient of the loss with respect to it), and a layer's
state: arrays it keeps and updates that no optimizer trains (batch norm's running statistics)."""

from __future__ import annotations

import numpy as np

from .._validation import as_numeric_array, check_float_dtype


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
    :class:`handgrad.optim.flat.FlatParameters`); code that needs them must read ``param.data``
    each time rather than keep the array it saw earlier.
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


class State:
    """An array a layer keeps and updates itself, which is not trained: batch norm's running mean
    and variance.

    A layer holds it as an attribute, as it holds a :class:`Parameter`, and ``named_state()``
    finds it the same way. Model files and checkpoints save and load it; no optimizer sees it
    (``parameters()`` does not list it); ``gradcheck``, ``trace`` and ``diagnose`` give it back
    the values it had. The layer updates ``data`` in place.
    """

    __slots__ = ("data",)

    def __init__(self, data, dtype=None):
        arr = as_numeric_array(data, "State data")
        dt = check_float_dtype(arr.dtype if dtype is None and arr.dtype.kind == "f" else dtype)
        self.data: np.ndarray = np.array(arr, dtype=dt, copy=True)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        return f"State(shape={self.data.shape}, dtype={self.data.dtype})"
