"""fit and predict read from a file on disk batch by batch: the data are never copied whole."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("out_of_core_worker.py")
ROWS, FEATURES = 400_000, 256  # 410 MB of float32

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ooc") / "X.f32"
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(ROWS, FEATURES))
    rng = np.random.default_rng(0)
    for start in range(0, ROWS, 50_000):  # written in chunks: the test itself stays small too
        X[start : start + 50_000] = rng.standard_normal((50_000, FEATURES), dtype=np.float32)
    X.flush()
    del X
    return path


@pytest.mark.parametrize("kind", ["memmap", "arraylike"])
def test_training_from_a_file_keeps_private_memory_far_below_its_size(data_file, kind):
    result = subprocess.run(
        [sys.executable, str(WORKER), str(data_file), str(ROWS), str(FEATURES), kind],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    report = json.loads(result.stdout)
    size_mb = data_file.stat().st_size / 2**20
    grown = report["peak_mb"] - report["base_mb"]
    assert report["predictions"] == ROWS
    assert report["val_accuracy"] > 0.9  # it really learned from the file's rows
    assert grown < 64 and grown < size_mb / 5, (report, size_mb)
