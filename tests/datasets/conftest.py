"""Small Fashion-MNIST files, for the tests of the loaders that read them."""

import numpy as np
import pytest
from helpers.datasets import STEMS, idx_bytes, write


@pytest.fixture
def fashion(tmp_path):
    """Four small, valid files (5 training and 3 test images), plain or gzipped."""
    rng = np.random.default_rng(0)
    arrays = {
        STEMS[0]: rng.integers(0, 256, (5, 28, 28)),
        STEMS[1]: np.array([9, 0, 3, 3, 7]),
        STEMS[2]: rng.integers(0, 256, (3, 28, 28)),
        STEMS[3]: np.array([1, 8, 0]),
    }

    def make(gz=(False, True, True, False)):
        for (stem, array), z in zip(arrays.items(), gz):
            write(tmp_path / stem, idx_bytes(array), z)
        return arrays

    return tmp_path, make
