import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import handgrad.nn.conv as conv_module

common = dict(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("handgrad", **common)
# In CI the examples are fixed, so a run's verdict does not depend on the draw; locally every run
# explores new ones.
settings.register_profile("handgrad-ci", derandomize=True, database=None, **common)
settings.load_profile("handgrad-ci" if os.environ.get("CI") else "handgrad")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(params=["im2col", "shifts"])
def formulation(request, monkeypatch):
    """A convolution test once per way of computing it: the im2col matrix, and the flat shifts
    (for every stride-1 convolution, however few its channels)."""
    depth = 10**9 if request.param == "im2col" else 0
    monkeypatch.setattr(conv_module, "SHIFT_MIN_DEPTH", depth)
    return request.param


def pytest_sessionfinish(session, exitstatus):
    """Write the reliability counts when asked (see tests/support/reliability.py)."""
    path = os.environ.get("HANDGRAD_RELIABILITY_REPORT")
    if path:
        import json

        from reliability import COUNTS

        with open(path, "w", encoding="utf-8") as f:
            json.dump(
                {"exit_status": int(exitstatus), "counts": COUNTS}, f, indent=2, sort_keys=True
            )
