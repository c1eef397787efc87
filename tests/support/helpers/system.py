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


def _browser_parts() -> str | None:
    """Why the headless browser cannot run here, or None when it can."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install '.[test]')"
    for program in ("chromium", "chromedriver"):
        if shutil.which(program) is None:
            return f"{program} is not installed (apt-get install chromium chromium-driver)"
    return None


#: Headless Chromium driven by Selenium: skipped locally without it, never in CI.
needs_browser = pytest.mark.skipif(
    _browser_parts() is not None and not IN_CI, reason=str(_browser_parts())
)
