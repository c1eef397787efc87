"""ProcessGroup: mpi4py is imported only when needed, and its arguments are checked."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from helpers.distributed import mpi

import handgrad as hg


def test_import_handgrad_needs_no_mpi():
    code = "import sys, handgrad; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_mpi4py_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # what an absent package looks like
    model = hg.Sequential([hg.Dense(2, 1, rng=0)])
    with pytest.raises(ImportError, match=r"pip install 'handgrad\[mpi\]'"):
        model.fit(
            np.ones((4, 2)),
            np.ones(4),
            loss=hg.MSELoss(),
            optimizer=hg.SGD(model.parameters(), lr=0.1),
            distributed=True,
        )


def test_process_group_names_a_bad_timeout_and_communicator():
    mpi()
    with pytest.raises(ValueError, match="timeout must be > 0, got 0"):
        hg.distributed.ProcessGroup(timeout=0)
    with pytest.raises(TypeError, match="comm must be an mpi4py intracommunicator"):
        hg.distributed.ProcessGroup(comm="world")
