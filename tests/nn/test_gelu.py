import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handgrad.nn.gelu import erfc


@given(hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-30, 30)))
def test_erfc_matches_the_standard_library(values):
    expected = np.array([math.erfc(v) for v in values])
    np.testing.assert_allclose(erfc(values), expected, rtol=2e-13, atol=1e-300)


def test_erfc_on_a_fine_grid_across_the_switch_between_methods():
    x = np.linspace(-6, 26, 64001)
    expected = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(erfc(x), expected, rtol=1e-13)
    x32 = x[:20000].astype(np.float32)
    expected32 = np.array([math.erfc(float(v)) for v in x32])
    assert erfc(x32).dtype == np.float32
    np.testing.assert_allclose(erfc(x32), expected32, rtol=2e-7, atol=1e-30)
