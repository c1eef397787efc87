import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "handgrad", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("handgrad")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
