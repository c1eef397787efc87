"""The gradients and starting weights that the update-rule tests share."""

import pytest

STEPS = 4


@pytest.fixture
def problem(rng):
    return rng.standard_normal((STEPS, 5)), rng.standard_normal(5)
