"""A checkpointed training process killed with SIGKILL at random moments resumes and ends with
the weights of an uninterrupted run; the checkpoint on disk is never half-written."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from reliability import record

import handgrad as hg
from handgrad import io as hgio

WORKER = Path(__file__).with_name("kill_worker.py")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def run_to_completion(folder: Path) -> list[np.ndarray]:
    subprocess.run(
        [sys.executable, str(WORKER), str(folder / "ckpt"), str(folder / "out")],
        check=True,
        timeout=600,
    )
    return [p.data for p in hg.load(folder / "out").parameters()]


def test_killed_runs_resume_to_the_uninterrupted_result(tmp_path):
    (tmp_path / "reference").mkdir()
    reference = run_to_completion(tmp_path / "reference")
    folder = tmp_path / "killed"
    folder.mkdir()
    ckpt, out = folder / "ckpt", folder / "out"
    rng = np.random.default_rng(2024)
    kills = 0
    epochs_seen = []
    while not out.exists():
        proc = subprocess.Popen([sys.executable, str(WORKER), str(ckpt), str(out)])
        # a random moment: during start-up, mid-epoch, or while a checkpoint is being written
        time.sleep(rng.uniform(0.3, 1.2))
        if proc.poll() is None and kills < 10:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            if ckpt.exists():
                _, _, training = hgio.read_checkpoint(ckpt)  # complete, or this raises
                epochs_seen.append(training["epoch"])
        else:
            assert proc.wait(timeout=600) == 0
    assert kills >= 4, "the run finished before it could be interrupted often enough"
    assert epochs_seen == sorted(epochs_seen) and epochs_seen[-1] <= 60
    final = [p.data for p in hg.load(out).parameters()]
    for a, b in zip(reference, final):
        np.testing.assert_array_equal(a, b)
    record("SIGKILLs survived", kills)
