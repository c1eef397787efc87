"""handgrad._blas: axpy in place through NumPy's own BLAS, and the same result where it cannot."""

import subprocess
import sys

import numpy as np
import pytest

from handgrad._blas import axpy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_updates_y_in_place(dtype, rng):
    x, y = rng.standard_normal(1000).astype(dtype), rng.standard_normal(1000).astype(dtype)
    expected = y.astype(np.float64) - 0.25 * x.astype(np.float64)
    before = y.ctypes.data
    axpy(-0.25, x, y)
    assert y.ctypes.data == before and y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_axpy_on_a_view_of_a_larger_buffer_writes_only_the_view(rng):
    buf = rng.standard_normal(10)
    y = buf[3:7]
    outside = np.concatenate([buf[:3], buf[7:]])
    expected = y + 2 * np.ones(4)
    axpy(2.0, np.ones(4), y)
    np.testing.assert_array_equal(buf[3:7], expected)
    np.testing.assert_array_equal(np.concatenate([buf[:3], buf[7:]]), outside)


@pytest.mark.parametrize(
    "x, y",
    [
        (np.arange(8.0)[::2], np.ones(4)),  # strided x
        (np.arange(4.0), np.ones(8)[::2]),  # strided y
        (np.arange(4, dtype=np.float32), np.ones(4)),  # mixed dtypes
    ],
)
def test_axpy_falls_back_to_numpy_with_the_same_result(x, y):
    expected = y + 3 * x.astype(y.dtype)
    axpy(3.0, x, y)
    np.testing.assert_array_equal(y, expected)


def test_axpy_uses_numpys_own_blas_on_this_build():
    # The wheels this project installs bundle OpenBLAS; finding it is what makes axpy one pass.
    from handgrad import _blas

    assert set(_blas._AXPY) == {np.dtype(np.float32), np.dtype(np.float64)}


def test_import_handgrad_loads_no_second_blas():
    code = (
        "import handgrad, threadpoolctl; "
        "print(len([i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1"]
