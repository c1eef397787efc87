"""What the tests need from the machine: where CI must have it, a missing piece fails instead of
skipping (``.ci/run`` installs it)."""

import os

import pytest

from handgrad.datasets import FASHION_MNIST_DIR

#: CI sets CI=true; there, nothing the suite needs may be missing.
IN_CI = bool(os.environ.get("CI"))

#: Real Fashion-MNIST: skipped locally without Debian's dataset-fashion-mnist, never in CI.
needs_fashion_mnist = pytest.mark.skipif(
    not FASHION_MNIST_DIR.is_dir() and not IN_CI,
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)
