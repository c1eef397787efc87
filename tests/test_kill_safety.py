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
from handgrad.train import checkpoints as hgio

WORKER = Path(__file__).with_name("kill_worker.py")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def run_to_completion(folder: Path) -> list[np.ndarray]:
    subprocess.run(
        [sys.executable, str(WORKER), str(folder / "ckpt"), str(folder / "out")],
        check=True,
        timeout=600,
    )
    return [p.data for p in hg.load(folder / "out").parameters()]


def checkpoint_epoch(path: Path) -> int:
    """The epochs a checkpoint has completed (0 before the first); reading it also proves it
    complete, since a half-written checkpoint raises ModelFileError."""
    if not path.exists():
        return 0
    _, _, training = hgio.read_checkpoint(path)
    return int(training["epoch"])


def test_killed_runs_resume_to_the_uninterrupted_result(tmp_path):
    (tmp_path / "reference").mkdir()
    reference = run_to_completion(tmp_path / "reference")
    folder = tmp_path / "killed"
    folder.mkdir()
    ckpt, out = folder / "ckpt", folder / "out"
    command = [sys.executable, str(WORKER), str(ckpt), str(out)]
    rng = np.random.default_rng(2024)
    kills = 0
    epochs_seen = []
    # Kill once during start-up, then each time the run has passed another target epoch, after a
    # random delay: the kills land mid-epoch, mid-validation or mid-write of a checkpoint.
    for target in [0, 2, 8, 15, 23, 31, 40, 48, 55]:
        proc = subprocess.Popen(command)
        while proc.poll() is None and checkpoint_epoch(ckpt) < target:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.25) if target else rng.uniform(0.05, 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            epochs_seen.append(checkpoint_epoch(ckpt))
        else:
            assert proc.returncode == 0
    if not out.exists():
        assert subprocess.run(command, timeout=600).returncode == 0
    assert kills >= 8, f"only {kills} kills landed"
    assert epochs_seen == sorted(epochs_seen) and epochs_seen[-1] <= 60
    final = [p.data for p in hg.load(out).parameters()]
    for a, b in zip(reference, final):
        np.testing.assert_array_equal(a, b)
    record("SIGKILLs survived", kills)
