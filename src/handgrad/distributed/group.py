"""Process groups: the ranks of one MPI job, and collectives that give up instead of hanging.

Every collective operation is started non-blocking and polled against a deadline (``timeout``,
300 s by default). When a rank dies, hangs or loses its connection, the others raise
:class:`CollectiveTimeoutError` instead of waiting forever. MPI cannot cancel a collective that one
rank never joins, so a process whose collective timed out aborts the MPI job when it exits (the
normal ``MPI_Finalize`` would wait for the lost rank forever).

No object is ever pickled: buffers travel as NumPy arrays, other values as JSON text in a byte
buffer. mpi4py is imported on first use: ``import handgrad`` needs NumPy only.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_positive, describe

#: Seconds a rank waits for the others in one collective operation before it gives up.
DEFAULT_TIMEOUT = 300.0
#: A wait first polls as fast as it can (yielding the core to other processes) for this long, which
#: keeps a step's all-reduce as fast as a blocking one; after that it sleeps between polls.
_SPIN_SECONDS = 0.05
_SLEEP_SECONDS = 0.001


class CollectiveTimeoutError(TimeoutError):
    """A collective operation did not complete within the timeout: another rank has died, hung,
    or lost its connection (or is slower than the timeout allows)."""


def _mpi():
    """``mpi4py.MPI``, imported on first use: ``import handgrad`` needs NumPy only."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "distributed training needs mpi4py and an MPI library: pip install 'handgrad[mpi]' "
            "(it brings mpi4py, and MPICH with its mpiexec)"
        ) from exc
    return MPI


class ProcessGroup:
    """The ranks that train one model together: an MPI communicator and how long to wait.

    Parameters
    ----------
    comm : mpi4py intracommunicator, optional
        ``MPI.COMM_WORLD`` (every process ``mpiexec`` started) by default.
    timeout : float
        Seconds one collective operation may take before this rank gives up with
        :class:`CollectiveTimeoutError`. It must cover the longest wait of a healthy run: the start
        (ranks reach ``fit`` after loading their data, at different times) and rank 0 writing a
        checkpoint while the others wait at the next step.
    """

    def __init__(self, comm: Any = None, timeout: float = DEFAULT_TIMEOUT):
        MPI = _mpi()
        if comm is None:
            comm = MPI.COMM_WORLD
        elif not isinstance(comm, MPI.Intracomm):
            raise TypeError(
                f"comm must be an mpi4py intracommunicator such as MPI.COMM_WORLD, "
                f"got {describe(comm)}"
            )
        self.comm = comm
        self.timeout = check_positive(timeout, "timeout")
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()

    def allreduce(self, buf: np.ndarray, what: str | Callable[[], str]) -> None:
        """``buf ← Σ_ranks buf``, in place, on every rank."""
        MPI = _mpi()
        self._wait(self.comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM), what)

    def broadcast(self, buf: np.ndarray, what: str | Callable[[], str]) -> None:
        """Rank 0's ``buf`` into every rank's ``buf``, in place."""
        self._wait(self.comm.Ibcast(buf, root=0), what)

    def allgather_json(self, value: Any, what: str) -> list[Any]:
        """Every rank's ``value`` (JSON-serialisable), in rank order, on every rank."""
        data = np.frombuffer(json.dumps(value, sort_keys=True).encode(), dtype=np.uint8)
        sizes = np.zeros(self.size, dtype=np.int64)
        self._wait(self.comm.Iallgather(np.array([data.size], dtype=np.int64), sizes), what)
        counts = sizes.tolist()
        joined = np.empty(sum(counts), dtype=np.uint8)
        self._wait(self.comm.Iallgatherv(data, (joined, counts)), what)
        ends = np.cumsum(counts).tolist()
        return [json.loads(joined[e - c : e].tobytes()) for c, e in zip(counts, ends)]

    def _wait(self, request: Any, what: str | Callable[[], str]) -> None:
        """Poll ``request`` until it completes or the timeout has passed."""
        test = request.Test
        if test():
            return
        now = time.monotonic()
        spin_until, deadline = now + _SPIN_SECONDS, now + self.timeout
        while not test():
            now = time.monotonic()
            if now > deadline:
                abort_at_exit(self.comm)
                what = what() if callable(what) else what
                raise CollectiveTimeoutError(
                    f"rank {self.rank} of {self.size}: {what} did not complete within "
                    f"{self.timeout:g} s: another rank has died, hung or lost its connection. "
                    "Checkpoints are written whole, so the last one can be resumed from "
                    "(resume_from=); this process aborts the MPI job when it exits, since MPI "
                    "cannot finish normally without the lost rank"
                )
            if now < spin_until:
                os.sched_yield()
            else:
                time.sleep(_SLEEP_SECONDS)

    def __repr__(self) -> str:
        return f"ProcessGroup(rank {self.rank} of {self.size}, timeout={self.timeout:g} s)"


_aborting: list[Any] = []


def abort_at_exit(comm: Any) -> None:
    """Make this process abort the MPI job when Python exits, instead of finalizing MPI."""
    if not _aborting:
        _aborting.append(comm)
        atexit.register(_abort)


#: Seconds a failing rank waits before aborting the job: the abort ends every rank at once, so the
#: launcher must first forward this rank's report, and a peer reporting the same timeout finish.
_ABORT_GRACE_SECONDS = 1.0


def _abort() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(_ABORT_GRACE_SECONDS)
    _aborting[0].Abort(1)


def as_group(distributed: Any) -> ProcessGroup:
    """``fit``'s ``distributed=`` argument as a :class:`ProcessGroup`."""
    if isinstance(distributed, ProcessGroup):
        return distributed
    if distributed is True:
        return ProcessGroup()
    MPI = _mpi()
    if isinstance(distributed, MPI.Intracomm):
        return ProcessGroup(distributed)
    raise TypeError(
        "distributed must be True, False, an mpi4py communicator or a "
        f"hg.distributed.ProcessGroup, got {describe(distributed)}"
    )


def rank(comm: Any = None) -> int:
    """This process's rank in ``comm`` (``MPI.COMM_WORLD`` by default); rank 0 saves the model."""
    return ProcessGroup(comm).rank


def size(comm: Any = None) -> int:
    """The number of ranks in ``comm`` (``MPI.COMM_WORLD`` by default)."""
    return ProcessGroup(comm).size
