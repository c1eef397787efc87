import numpy as np
import pytest

import handgrad as hg


def test_parameter_holds_data_and_a_zero_gradient_of_the_same_shape_and_dtype():
    p = hg.Parameter(np.ones((2, 3), np.float32))
    assert p.shape == (2, 3) and p.dtype == np.float32 and p.size == 6
    assert p.grad.shape == (2, 3) and p.grad.dtype == np.float32 and not p.grad.any()


def test_parameter_copies_its_input_and_defaults_integers_to_float64():
    source = np.array([1, 2, 3])
    p = hg.Parameter(source)
    p.data[0] = 10
    assert source[0] == 1 and p.dtype == np.float64


def test_parameter_rejects_other_dtypes():
    with pytest.raises(TypeError, match=r"float32 or np\.float64, got float16"):
        hg.Parameter(np.ones(2, np.float16))
    with pytest.raises(TypeError, match="array of numbers"):
        hg.Parameter(["a"])
