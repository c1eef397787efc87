import numpy as np
import pytest

import handgrad as hg
from handgrad.optim.flat import FlatParameters


def test_flat_parameters_make_views_that_keep_values():
    a, b = hg.Parameter(np.arange(6.0).reshape(2, 3)), hg.Parameter([7.0, 8.0])
    flat = FlatParameters([a, b])
    np.testing.assert_array_equal(flat.data, [0, 1, 2, 3, 4, 5, 7, 8])
    flat.data += 1
    np.testing.assert_array_equal(a.data, [[1, 2, 3], [4, 5, 6]])
    b.grad[...] = [3, 4]
    np.testing.assert_array_equal(flat.grad[-2:], [3, 4])


def test_flat_parameters_reuse_an_existing_flat_layout():
    a, b = hg.Parameter(np.ones(3)), hg.Parameter(np.ones(2))
    first = FlatParameters([a, b])
    second = FlatParameters([a, b])
    assert second.data is first.data and second.grad is first.grad


def test_sync_restores_views_after_rebinding():
    a, b = hg.Parameter(np.ones(3)), hg.Parameter(np.ones(2))
    flat = FlatParameters([a, b])
    a.data = np.array([5.0, 6.0, 7.0])
    b.grad = np.array([1.0, 2.0])
    flat.sync()
    np.testing.assert_array_equal(flat.data[:3], [5, 6, 7])
    np.testing.assert_array_equal(flat.grad[3:], [1, 2])
    flat.data[0] = 9
    assert a.data[0] == 9


def test_sync_refuses_a_new_shape():
    a = hg.Parameter(np.ones(3))
    flat = FlatParameters([a])
    a.data = np.ones(4)
    with pytest.raises(ValueError, match=r"shape \(4,\); it must keep its shape \(3,\)"):
        flat.sync()


def test_flat_parameters_need_one_dtype():
    with pytest.raises(ValueError, match="one dtype"):
        FlatParameters([hg.Parameter(np.ones(2)), hg.Parameter(np.ones(2, np.float32))])
