"""How many threads the BLAS library's matrix products use while handgrad trains or predicts.

``threads=1`` (the default of ``fit``, ``evaluate`` and ``predict``) runs every product on one
thread; ``threads=N`` on N; ``threads=None`` leaves the library as it is (its own default, or
``OPENBLAS_NUM_THREADS``). The setting holds for the call only: the BLAS libraries loaded in
the process (found by threadpoolctl) are set on entry and get their thread counts back on exit.

Why one thread by default. A dense network's products are small (128×784 by 784×256 at the
benchmark's batch, a fraction of a millisecond). Split over two threads on an idle two-core
machine they can make training faster (an epoch of the benchmark 1.56× on an AMD EPYC, the
README's Fashion-MNIST command about 10 % on an Intel Xeon), but when another process keeps one
of the cores busy the BLAS threads wait for each other at every product, and that command took
1.7 to 5 times as long as at one thread (the figures are in ``docs/performance.md``). The count
is fixed, not chosen from the machine's load while training, because OpenBLAS sums a product in
another order on another number of threads: a count that followed the load would make the same
seed give other weights.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator

#: The thread count of ``fit``, ``evaluate`` and ``predict`` unless told otherwise.
DEFAULT_THREADS = 1


def check_threads(threads, name: str = "threads") -> int | None:
    """``threads`` as an int ≥ 1, or None; a clear error for anything else."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise TypeError(
            f"{name} must be a whole number of threads (e.g. 1) or None to leave the BLAS "
            f"library's own setting, got {threads!r}"
        )
    if threads < 1:
        raise ValueError(f"{name} must be at least 1, got {threads}")
    return int(threads)


_libraries: list | None = None  # (get, set) of each BLAS library loaded, found once


def _blas_libraries(refresh: bool) -> list[tuple]:
    """``(get_num_threads, set_num_threads)`` of each BLAS library in the process, found by
    threadpoolctl. Finding them walks every loaded library (about a millisecond), so it is done
    once, and again with ``refresh`` (``fit`` asks, once per call, in case a library was loaded
    since). For OpenBLAS on its own threads the pair is the library's C functions themselves,
    called directly: threadpoolctl's methods add a few µs of Python each, which a one-row
    ``predict`` (about 30 µs) would feel."""
    global _libraries
    if _libraries is None or refresh:
        from threadpoolctl import ThreadpoolController  # imported when used: NumPy loads alone

        _libraries = [
            _functions(lib)
            for lib in ThreadpoolController().lib_controllers
            if lib.user_api == "blas"
        ]
    return _libraries


def _functions(lib) -> tuple:
    if lib.internal_api == "openblas" and getattr(lib, "threading_layer", None) == "pthreads":
        symbol = getattr(lib, "_get_symbol", None)
        if symbol is not None:
            get, set_ = symbol("openblas_get_num_threads"), symbol("openblas_set_num_threads")
            if get is not None and set_ is not None:
                return get, set_
    return lib.get_num_threads, lib.set_num_threads


@contextlib.contextmanager
def blas_threads(threads: int | None, *, refresh: bool = False) -> Iterator[None]:
    """Run the block with the BLAS libraries limited to ``threads`` (None: as they are), and
    put back after it the counts they had; a library already at ``threads`` is left alone."""
    if threads is None:
        yield
        return
    changed = []
    for get, set_ in _blas_libraries(refresh):
        before = get()
        if before != threads:
            set_(threads)
            changed.append((set_, before))
    try:
        yield
    finally:
        for set_, before in changed:
            set_(before)
