"""The window geometry that convolution and pooling share."""

import numpy as np
import pytest

from handgrad.nn.windows import (
    Geometry,
    int_pair,
    offset_view,
    padded_window,
    same_padding,
    window_cells,
    windows,
)


def test_output_size_floors_like_pytorch():
    g = Geometry(3, 2, 2, 1, top=1, bottom=1)
    assert g.output_size(7, 5) == ((7 + 2 - 3) // 2 + 1, 5 - 2 + 1) == (4, 4)
    assert Geometry(5, 5, 1, 1).output_size(3, 3) == (-1, -1)


def test_same_padding_puts_the_odd_zero_at_the_end():
    assert same_padding(3) == (1, 1)
    assert same_padding(4) == (1, 2)
    assert same_padding(1) == (0, 0)


def test_windows_is_a_view_of_every_window():
    x = np.arange(2 * 5 * 6 * 3, dtype=float).reshape(2, 5, 6, 3)
    g = Geometry(2, 3, 2, 1)
    Ho, Wo = g.output_size(5, 6)
    w = windows(x, g, Ho, Wo)
    assert w.shape == (2, Ho, Wo, 2, 3, 3) and np.shares_memory(w, x)
    np.testing.assert_array_equal(w[1, 1, 2], x[1, 2:4, 2:5])
    np.testing.assert_array_equal(offset_view(x, g, 1, 2, Ho, Wo)[1, 1, 2], x[1, 3, 4])


def test_a_window_past_the_edge_holds_the_padding_zeros():
    x = np.arange(1, 10, dtype=float).reshape(1, 3, 3, 1)
    g = Geometry(3, 3, 1, 1, 1, 1, 1, 1)
    np.testing.assert_array_equal(
        padded_window(x, g, 0, 0, 0)[..., 0], [[0, 0, 0], [0, 1, 2], [0, 4, 5]]
    )
    assert window_cells(g, 0, 0, 3, 3) == (slice(0, 2), slice(0, 2))


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "k must be >= 1, got 0"),
        ((2, 3, 4), ValueError, "k must be an int or a pair of ints"),
        ((2, 1.5), TypeError, "k must be an int or a pair of ints"),
        (True, TypeError, "k must be an int or a pair of ints"),
    ],
)
def test_pairs_are_checked(value, error, message):
    with pytest.raises(error, match=message):
        int_pair(value, "k", 1)
    assert int_pair((2, 3), "k", 1) == (2, 3)
