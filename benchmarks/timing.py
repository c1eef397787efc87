"""Clocks and memory gauges used inside the child processes."""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable

import numpy as np


def time_calls(
    fn: Callable[[], object], budget: float, min_calls: int = 5, warmup: int = 3
) -> np.ndarray:
    """Seconds taken by each of repeated calls of ``fn``, after ``warmup`` untimed calls.

    Calls go on until ``budget`` seconds have passed and at least ``min_calls`` were timed.
    Each call is timed on its own, so the median is robust to the odd interruption by another
    process on a shared machine.
    """
    for _ in range(warmup):
        fn()
    times = []
    clock = time.perf_counter
    stop = clock() + budget
    while len(times) < min_calls or clock() < stop:
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return np.array(times)


def summary(times) -> dict[str, float]:
    times = np.asarray(times, dtype=float)
    return {"median": float(np.median(times)), "best": float(times.min()), "n": len(times)}


def peak_rss_bytes() -> int:
    """The largest resident set this process has had: ``VmHWM`` from ``/proc/self/status``.

    Not ``getrusage``'s ``ru_maxrss``: on Linux that survives ``fork`` + ``exec``, so a child
    would report its parent's peak whenever the parent's was larger.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def current_rss_bytes() -> int:
    """The resident set now, from ``/proc/self/statm`` (falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return peak_rss_bytes()
    return pages * os.sysconf("SC_PAGE_SIZE")
