"""``axpy``, the BLAS operation NumPy does not expose, from NumPy's own BLAS.

``axpy(α, x, y)``: ``y ← α·x + y`` in place, one pass over ``x`` and ``y``. NumPy needs two
(``t = α·x``, then ``y += t``) and a scratch array: on the benchmark's MLP the plain SGD step over
its 235,146 float32 parameters took 106 µs that way and 34 µs as one ``saxpy`` (Intel Xeon, one
thread).

NumPy's Linux and macOS wheels bundle OpenBLAS (``scipy-openblas64``), which exports the CBLAS
interface under prefixed names (``scipy_cblas_saxpy64_``); this module finds that library among
NumPy's own and calls it through ``ctypes``. It is the library NumPy's matrix products run in, so
its threads are NumPy's: a second copy of OpenBLAS in the process (SciPy's) would have threads of
its own, which spin against NumPy's (an SGD epoch took 5.5 s instead of 0.8 s at two threads).
Where the library is not found (another NumPy build) or the arrays do not suit it (not
contiguous, mixed dtypes), ``axpy`` computes the same with NumPy.

BLAS does not raise on overflow as NumPy's ``errstate`` does: an update made by ``axpy`` that
overflows shows as a non-finite loss at the next step.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_INT = ctypes.c_int64  # the "64_" interface: 64-bit integer sizes and strides


def _numpy_openblas() -> dict[np.dtype, object]:
    """The ``axpy`` functions of the OpenBLAS bundled with NumPy, by dtype (empty if none)."""
    folder = os.path.dirname(np.__file__)
    patterns = ("numpy.libs/libscipy_openblas64_*.so*", "numpy/.dylibs/libscipy_openblas64_*")
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(os.path.dirname(folder), pattern))):
            try:
                lib = ctypes.CDLL(path)
                found = {}
                for dtype, name, scalar in (
                    (np.float32, "scipy_cblas_saxpy64_", ctypes.c_float),
                    (np.float64, "scipy_cblas_daxpy64_", ctypes.c_double),
                ):
                    fn = getattr(lib, name)
                    fn.restype = None
                    fn.argtypes = [_INT, scalar, ctypes.c_void_p, _INT, ctypes.c_void_p, _INT]
                    found[np.dtype(dtype)] = fn
                return found
            except (OSError, AttributeError):
                continue
    return {}


_AXPY = _numpy_openblas()


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """``y ← α·x + y`` in place, for 1-D arrays of the same length."""
    fn = _AXPY.get(y.dtype)
    if (
        fn is None
        or x.dtype != y.dtype
        or x.shape != y.shape
        or x.ndim != 1
        or not (x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable)
    ):
        y += y.dtype.type(alpha) * x
        return
    fn(y.size, alpha, x.__array_interface__["data"][0], 1, y.__array_interface__["data"][0], 1)
