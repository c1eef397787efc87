"""Synchronous data-parallel training over MPI: ``fit(..., distributed=True)``.

:mod:`.group` holds the ranks and their collectives, :mod:`.parallel` the data parallelism one
``fit`` uses; the method, and how a run fails, are in :mod:`.parallel`'s docstring.
"""

from .group import DEFAULT_TIMEOUT, CollectiveTimeoutError, ProcessGroup, rank, size
from .parallel import DataParallel, fit_shard, layer_seed, shard

__all__ = [
    "DEFAULT_TIMEOUT",
    "CollectiveTimeoutError",
    "DataParallel",
    "ProcessGroup",
    "fit_shard",
    "layer_seed",
    "rank",
    "shard",
    "size",
]
