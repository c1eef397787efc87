"""Argument checks shared by the public entry points.

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value)
with a message naming the argument, what was expected and what came.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def describe(value: Any) -> str:
    """A short description of ``value`` for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r} (a bool)"
    if isinstance(value, (numbers.Number, str)):
        return f"{value!r} ({type(value).__name__})"
    return f"a {type(value).__name__}"


def as_numeric_array(value: Any, name: str) -> np.ndarray:
    """``value`` as an ndarray of real numbers (bool, int or float), not copied if it is one.

    A masked array with masked elements is refused: handgrad computes on every element, so the
    mask would be silently ignored."""
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.is_masked(value):
            masked = int(np.ma.count_masked(value))
            raise TypeError(
                f"{name} is a masked array with {masked} masked value{'s' * (masked != 1)}, and "
                "handgrad would ignore the mask: fill them first (x.filled(value)) or leave "
                "those rows out"
            )
        value = value.data
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{name} must be an array of numbers, got {describe(value)}") from exc
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
    if kind not in "biuf":
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    return arr


_CHUNK_ELEMENTS = 1 << 20


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise when a float array holds NaN or infinity, saying how many and where the first is."""
    if arr.dtype.kind != "f" or arr.size == 0:
        return
    if arr.size <= _CHUNK_ELEMENTS and np.isfinite(arr).all():
        return  # the common case, in one call
    # In chunks of rows, so that checking a large dataset never allocates a mask as big as it.
    rows = max(1, _CHUNK_ELEMENTS // max(1, arr[0].size)) if arr.ndim > 1 else _CHUNK_ELEMENTS
    for start in range(0, len(arr), rows):
        chunk = arr[start : start + rows]
        if np.isfinite(chunk).all():
            continue
        bad = ~np.isfinite(chunk)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        index = (first[0] + start, *first[1:])
        raise ValueError(
            f"{name} must be finite, got a NaN or infinite value at index {index} ({chunk[first]})"
        )


def as_input_array(value: Any, name: str, *, ndim: int | None = None, finite: bool = True):
    """A numeric ndarray with the given number of dimensions, finite unless ``finite=False``."""
    arr = as_numeric_array(value, name)
    if ndim is not None and arr.ndim != ndim:
        want = {1: "a 1-D array", 2: "a 2-D array (batch, features)"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if finite:
        check_finite(arr, name)
    return arr


def as_batch(value: Any, name: str, *, finite: bool = True) -> np.ndarray:
    """A numeric ndarray ``(batch, …)`` of at least two dimensions: rows of features, of images
    ``(batch, height, width, channels)``, or of anything else, batch first."""
    arr = as_numeric_array(value, name)
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must be a batch of rows, shape (batch, features) or (batch, …), got shape "
            f"{arr.shape}"
        )
    if finite:
        check_finite(arr, name)
    return arr


def check_real(value: Any, name: str) -> float:
    """``value`` as a finite Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    return out


def check_positive(value: Any, name: str) -> float:
    out = check_real(value, name)
    if out <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return out


def check_nonnegative(value: Any, name: str) -> float:
    out = check_real(value, name)
    if out < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return out


def check_in_range(value: Any, name: str, low: float, high: float, *, closed_high=False) -> float:
    """``value`` in ``[low, high)`` (or ``[low, high]`` with ``closed_high``)."""
    out = check_real(value, name)
    ok = low <= out <= high if closed_high else low <= out < high
    if not ok:
        bracket = "]" if closed_high else ")"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {value!r}")
    return out


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a Python bool; only ``True`` and ``False`` (NumPy's included) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as a Python int, at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    out = int(value)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {out}")
    return out


def check_float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """``dtype`` as np.float32 or np.float64, the two dtypes handgrad computes in."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype!r}") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dt}")
    return dt


def make_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """A Generator from ``None`` (fresh entropy), an int seed, or a Generator (used as is)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"{name} must be a non-negative seed, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be None, an int seed or a np.random.Generator, got {describe(rng)}"
    )


def as_row_data(value: Any, name: str):
    """A ``(rows, …)`` source of numbers (at least two dimensions: rows of features, or of images),
    checked but not loaded into memory.

    An ndarray (``np.memmap`` included) is returned as it is; so is any other object with
    ``shape``, ``dtype`` and ``__getitem__`` (an HDF5 dataset, a zarr array), read in chunks of rows
    to check that it is finite. Anything else goes through ``np.asarray``.
    """
    if isinstance(value, np.ndarray) or not (
        hasattr(value, "shape") and hasattr(value, "__getitem__") and hasattr(value, "dtype")
    ):
        return as_batch(value, name)
    shape = tuple(value.shape)
    if len(shape) < 2:
        raise ValueError(
            f"{name} must be a batch of rows, shape (batch, features) or (batch, …), got shape "
            f"{shape}"
        )
    dtype = np.dtype(value.dtype)
    if dtype.kind == "c":
        raise TypeError(f"{name} must hold real numbers, got complex dtype {dtype}")
    if dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of numbers, got dtype {dtype}")
    rows = max(1, _CHUNK_ELEMENTS // max(1, math.prod(shape[1:])))
    for start in range(0, shape[0], rows):
        chunk = np.asarray(value[start : start + rows])
        try:
            check_finite(chunk, name)
        except ValueError:
            bad = np.argwhere(~np.isfinite(chunk))[0]
            index = ", ".join(str(int(i)) for i in (bad[0] + start, *bad[1:]))
            raise ValueError(
                f"{name} must be finite, got a NaN or infinite value at index ({index})"
            ) from None
    return value


def take_rows(X, idx: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``X[idx]`` for any row source: ``np.take`` for arrays; for other array-likes, one read of
    the rows in increasing order (what HDF5 requires), then put back in ``idx``'s order."""
    if isinstance(X, np.ndarray):
        return np.take(X, idx, axis=0, out=out, mode="clip" if out is not None else "raise")
    order = np.argsort(idx, kind="stable")
    rows = np.asarray(X[idx[order]])
    result = np.empty((len(idx), *rows.shape[1:]), rows.dtype) if out is None else out
    result[order] = rows
    return result
