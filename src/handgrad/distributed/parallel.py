"""Synchronous data-parallel training over MPI: ``fit(..., distributed=True)``.

Every rank (one process, started by ``mpiexec``) holds a copy of the model and a shard of the
rows, and after every step every copy holds the same weights. With R ranks holding n_0 … n_{R−1}
rows, N = Σ n_r:

* **Global rows.** The shards concatenated in rank order are the data set: rank r holds global
  rows o_r … o_r + n_r − 1, with o_r = Σ_{s<r} n_s (the ranks exchange their n_r once).
* **Global batches.** Every rank draws the same permutation π of range(N) each epoch (the run's
  generator starts from rank 0's state), and global batch k is π[kB : (k+1)B]: ``batch_size`` is
  the global batch size B, whatever the number of ranks.
* **One gradient sum per step.** Rank r runs the forward and backward pass on the m_r rows of
  the batch that it holds, which gives the gradient of *its* mean loss,
  g_r = (1/m_r) Σ_{i ∈ batch ∩ shard r} ∇ℓ_i. Scaled by m_r / B and summed over the ranks::

      Σ_r (m_r / B) · g_r  =  (1/B) Σ_{i ∈ batch} ∇ℓ_i  =  g

  the gradient of the batch's mean loss, which is what one process training on all N rows
  computes. One ``Allreduce(SUM)`` over the optimizer's flat gradient buffers
  (``optimizer.flat_groups[i].grad``, one per dtype) forms g on every rank; a rank with no row in
  the batch contributes zeros but takes part. Every rank then applies the same optimizer step (and
  the same gradient clipping) to the same weights, so the weights never need sending again.
  Only the rounding differs from single-process training: the sum is split across ranks.
* **Epoch figures.** The loss and each metric are kept as sums and counts on every rank
  (Σ L_b·m_b and Σ m_b for the loss, correct answers and rows for accuracy, …) and added up with
  one small ``Allreduce`` at the end of the epoch, and likewise for the validation data, of which
  each rank holds its own shard. Every rank therefore logs the same figures, and callbacks that
  decide from them (early stopping, schedules) decide the same everywhere.
* **Start.** The ranks exchange their settings (batch size, epochs, network, optimizer, loss,
  metrics…) and refuse to start, on every rank, when one differs; rank 0's weights are then
  broadcast, so every rank starts from the same point.
* **Rank 0 speaks.** Only rank 0 shows progress and writes checkpoints (``Checkpoint``); every
  rank reads the checkpoint to resume (``resume_from=``), so it must be readable from every host.
* **Random layers.** Each rank's ``Dropout`` draws from its own stream, derived each epoch from the
  shared generator and the rank, so two ranks never drop the same units of their rows; a run with
  dropout is reproducible (and resumes exactly) for a given number of ranks and shard sizes, but
  it is not the single-process run.
* **Statistics of the batch.** A layer that sums over the batch in training (``BatchNorm``:
  ``sums_over_batch``) normalises with the statistics of the *global* batch: its sums (Σx,
  Σ(x − μ)² forward, Σdy and Σdy ⊙ x̂ backward) are all-reduced, on a communicator of their own,
  and every rank moves its running statistics by the same amounts. A rank holding no row of a
  step still takes part, with zeros. So a network with batch norm, too, reaches the weights and
  running statistics of one process (to rounding), however the rows fall on the ranks.

Failure. Every collective operation is started non-blocking and polled against a deadline
(``timeout``, 300 s by default). When a rank dies, hangs or loses its connection, the others raise
:class:`CollectiveTimeoutError` instead of waiting forever. MPI cannot cancel a collective that one
rank never joins, so a process whose collective timed out aborts the MPI job when it exits (the
normal ``MPI_Finalize`` would wait for the lost rank forever), and so does one that leaves a
distributed ``fit`` with any error but :class:`~handgrad.errors.TrainingDiverged`, which every
rank raises together: a rank whose loss or gradient is not finite sends NaN into the gradient sum,
so the others stop at the same step. Checkpoints are written atomically: the last one is intact.

No object is ever pickled: gradients, weights and the epoch sums travel as NumPy buffers, and the
start-up settings as JSON text in a byte buffer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._validation import check_int, describe
from ..errors import TrainingDiverged
from .group import DEFAULT_TIMEOUT, ProcessGroup, abort_at_exit, as_group


def shard(n_rows: int, rank: int | None = None, size: int | None = None) -> slice:
    """The rows of a data set of ``n_rows`` that ``rank`` of ``size`` reads: a contiguous block,
    ``rank·n_rows // size`` to ``(rank + 1)·n_rows // size``, so the shards in rank order are the
    whole set and their sizes differ by at most one. ``rank`` and ``size`` default to this
    process's in ``MPI.COMM_WORLD``.

    >>> [shard(10, r, 3) for r in range(3)]
    [slice(0, 3, None), slice(3, 6, None), slice(6, 10, None)]
    """
    n_rows = check_int(n_rows, "n_rows", minimum=0)
    if rank is None or size is None:
        group = ProcessGroup()
        rank = group.rank if rank is None else rank
        size = group.size if size is None else size
    size = check_int(size, "size", minimum=1)
    rank = check_int(rank, "rank", minimum=0)
    if rank >= size:
        raise ValueError(f"rank must be in [0, {size}) for size={size}, got {rank}")
    return slice(rank * n_rows // size, (rank + 1) * n_rows // size)


def fit_shard(
    model: Any,
    X: Any,
    y: Any,
    *,
    comm: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
    **fit_kwargs: Any,
) -> Any:
    """Train ``model`` with every rank of ``comm`` on its own shard of ``(X, y)``.

    ``X`` and ``y`` are the whole data set as row sources that read lazily (``np.load(path,
    mmap_mode="r")``, an HDF5 dataset, …) or arrays; this rank takes its rows ``shard(len(X))``,
    so with a lazy source it reads only those. Then ``model.fit(X_shard, y_shard,
    distributed=ProcessGroup(comm, timeout), **fit_kwargs)``; every rank returns the same
    ``History`` and ends with the same weights. Rank 0 alone should save the model afterwards
    (``if hg.distributed.rank() == 0: model.save(path)``).
    """
    group = ProcessGroup(comm, timeout)
    if not hasattr(X, "__len__") or not hasattr(y, "__len__"):
        raise TypeError(
            f"X and y must be arrays or row sources with a length, got {describe(X)} and "
            f"{describe(y)}"
        )
    rows = shard(len(X), group.rank, group.size)
    return model.fit(X[rows], y[rows], distributed=group, **fit_kwargs)


# The machinery of one distributed fit ------------------------------------------------------------


class DataParallel:
    """One distributed ``fit``: the shard layout, the batch plan, the gradient sum, the sums of the
    epoch figures. The training loop builds it and hands it the run it serves (``start``); it is
    not meant to be used directly.

    Building it is the start-up exchange: every rank sends its number of rows and the settings
    every rank must share (JSON values), and every rank raises the same ``ValueError`` when one
    differs; ``rng`` is set to rank 0's state. ``outputs`` is the network's number of outputs,
    which sizes the metrics' sums.
    """

    def __init__(
        self, distributed: Any, n_rows: int, rng: np.random.Generator, settings: dict, outputs: int
    ):
        self.group = group = as_group(distributed)
        entries = group.allgather_json(
            {"rows": n_rows, "settings": settings, "rng": rng.bit_generator.state},
            "the start-up exchange of shard sizes and settings",
        )
        for r, entry in enumerate(entries[1:], start=1):
            theirs, ours = entry["settings"], entries[0]["settings"]
            for key in ours:
                if theirs.get(key) != ours[key]:
                    raise ValueError(
                        f"distributed training needs the same {key} on every rank: rank 0 has "
                        f"{ours[key]!r}, rank {r} has {theirs.get(key)!r}"
                    )
        sizes = [entry["rows"] for entry in entries]
        self.n_samples = sum(sizes)
        if self.n_samples == 0:
            raise ValueError(f"X is empty on every one of the {group.size} ranks")
        self.n_local = sizes[group.rank]
        self.offset = sum(sizes[: group.rank])
        self.sizes = sizes
        rng.bit_generator.state = entries[0]["rng"]
        self._rng = rng
        self._width = outputs
        self._groups: tuple = ()
        self._batch_rows = 0
        self._reduced = True
        self._run: Any = None

    def start(self, run: Any, start_epoch: int, error: Exception | None) -> None:
        """Begin serving ``run`` (the loop's ``TrainingRun``), which each rank has resumed from a
        checkpoint (to ``start_epoch``) or not, or failed to resume with ``error``: check that
        every rank resumed to the same point, broadcast rank 0's weights, and leave the callbacks
        that say they are for rank 0 alone (``rank_zero_only``: printing, checkpoints) to rank 0.
        """
        self._run = run
        self._groups = run.optimizer.flat_groups
        states = self.group.allgather_json(
            {
                "error": None if error is None else f"{type(error).__name__}: {error}",
                "epoch": start_epoch,
                "step": run.optimizer.t,
            },
            "the start-up check that every rank resumed",
        )
        if error is not None:
            raise error
        for r, state in enumerate(states):
            if state["error"] is not None:
                raise ValueError(
                    f"resume_from: rank {r} could not resume ({state['error']}); every rank "
                    "must be able to read the checkpoint"
                )
        if len({(s["epoch"], s["step"]) for s in states}) > 1:
            found = ", ".join(
                f"rank {r} at epoch {s['epoch']}, step {s['step']}" for r, s in enumerate(states)
            )
            raise ValueError(
                f"the ranks start from different points ({found}); resume every rank from the "
                "same checkpoint, with a new optimizer"
            )
        for group in self._groups:
            group.sync()
            self.group.broadcast(group.data, "the broadcast of rank 0's initial weights")
        if self.group.rank != 0:
            run.callbacks = [cb for cb in run.callbacks if not cb.rank_zero_only]
        self._layer_rngs = [gen for _, gen in run.model.generators()]
        self._summing = [
            layer for _, layer in run.model.leaves() if getattr(layer, "sums_over_batch", False)
        ]
        if self._summing:
            # Their sums travel on a communicator of their own, never matched with the gradients'.
            self._sums_group = ProcessGroup(self.group.comm.Dup(), self.group.timeout)
            for layer in self._summing:
                layer.batch_sums = _RankSums(self, layer)

    def idle_step(self) -> None:
        """A step in which this rank holds no row: take part in the batch sums of the layers
        that make them (forward first to last, backward last to first), with zeros."""
        for layer in self._summing:
            layer.forward_without_rows()
        for layer in reversed(self._summing):
            layer.backward_without_rows()

    def finish(self) -> None:
        """The end of the run (it ended well or not): the layers sum their own batches again."""
        for layer in getattr(self, "_summing", ()):
            layer.__dict__.pop("batch_sums", None)

    def batches(self, order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
        """For each global batch ``order[kB : (k+1)B]``, the local indices of the rows this rank
        holds (possibly none), in the batch's order.

        Before the first batch, each random layer (Dropout) of this rank gets its stream for the
        epoch, derived from the shared generator's state and the rank.
        """
        if self._layer_rngs:
            self._reseed_layers()
        n = len(order)
        lo, hi = self.offset, self.offset + self.n_local
        positions = np.flatnonzero((order >= lo) & (order < hi))
        local = order[positions] - lo
        edges = np.minimum(np.arange(0, n + batch_size, batch_size), n)  # 0, B, 2B, …, N
        cuts = np.searchsorted(positions, edges).tolist()
        edges = edges.tolist()
        for k in range(len(edges) - 1):
            self._batch_rows = edges[k + 1] - edges[k]
            self._local_rows = cuts[k + 1] - cuts[k]
            self._reduced = False
            yield local[cuts[k] : cuts[k + 1]]

    def reduce_gradients(self, rows: int) -> None:
        """Turn this rank's gradient of its ``rows`` rows' mean loss into the global batch's:
        ``g ← Σ_r (m_r / B) · g_r``, one all-reduce per dtype, on every rank.

        Raises ``TrainingDiverged`` when another rank reported a non-finite loss or gradient.
        """
        share = rows / self._batch_rows
        for group in self._groups:
            group.sync()
            if rows == 0:
                group.grad.fill(0)
            elif share != 1:
                group.grad *= group.dtype.type(share)
            self.group.allreduce(group.grad, self._step_name)
        self._reduced = True
        # A rank that failed sent NaN everywhere; its own NaNs raise there, so NaN means another.
        if any(np.isnan(group.grad[0]) for group in self._groups):
            run = self._run
            raise TrainingDiverged(
                run.epoch,
                run.batch,
                "another rank's loss or gradient is not finite",
                run.optimizer.lr,
            )

    def abandon_step(self) -> None:
        """After this rank failed in a step: send NaN into the step's gradient sum (if not done),
        so that the other ranks stop with ``TrainingDiverged`` too instead of waiting."""
        if self._reduced:
            return
        for group in self._groups:
            group.sync()
            group.grad.fill(np.nan)
            self.group.allreduce(group.grad, self._step_name)
        self._reduced = True

    def on_error(self, error: BaseException) -> None:
        """``fit`` stops with ``error`` on this rank. Every rank raises ``TrainingDiverged``
        together; after any other error the ranks are out of step, and this process aborts the
        MPI job when it exits rather than wait in ``MPI_Finalize`` for the others."""
        if not isinstance(error, TrainingDiverged):
            abort_at_exit(self.group.comm)

    def combine(self, total: float, count: int, metrics: list) -> tuple[float, int]:
        """The sums over every rank of a loss total, a row count and each metric's running sums
        (``metric.totals``; the metrics are updated in place to hold the sums of all ranks)."""
        parts = [np.array([total, count], dtype=np.float64)]
        parts += [np.asarray(m.totals(self._width), dtype=np.float64) for m in metrics]
        buf = np.concatenate(parts)
        self.group.allreduce(buf, "the sum of the epoch's loss and metrics")
        start = 2
        for m, part in zip(metrics, parts[1:]):
            m.load_totals(buf[start : start + len(part)])
            start += len(part)
        return float(buf[0]), round(buf[1])

    def _step_name(self) -> str:
        run = self._run
        return f"the gradient sum of epoch {run.epoch + 1}, batch {run.batch + 1}"

    def _reseed_layers(self) -> None:
        shared = self._rng.bit_generator.state
        for i, gen in enumerate(self._layer_rngs):
            seeds = layer_seed(shared, self.group.rank, i)
            gen.bit_generator.state = type(gen.bit_generator)(seeds).state


class _RankSums:
    """What a layer that sums over the batch (``BatchNorm``) is given in distributed training:
    the sums of every rank, for the step's global batch."""

    def __init__(self, parallel: DataParallel, layer: Any):
        self._parallel = parallel
        self._what = f"the batch statistics of {layer!r}"

    def values(self, local: np.ndarray) -> np.ndarray:
        """Σ over the ranks of ``local`` (sums of values, counts), in float64."""
        buf = np.array(local, dtype=np.float64)
        self._parallel._sums_group.allreduce(buf, self._what)
        return buf

    def gradients(self, local: np.ndarray) -> np.ndarray:
        """Σ over the ranks of gradient sums, in this rank's scale. A rank's gradients are those
        of its own rows' mean loss, (B / m_r) times the global batch's; so each sends its sums
        times m_r / B, and the total comes back divided by this rank's m_r / B."""
        p = self._parallel
        share = p._local_rows / p._batch_rows
        buf = np.array(local, dtype=np.float64) * share
        p._sums_group.allreduce(buf, self._what)
        return buf / share if share else buf


def layer_seed(shared_state: dict, rank: int, layer: int) -> np.random.SeedSequence:
    """The seed of random layer number ``layer`` on ``rank`` for an epoch: from the shared
    generator's state at the epoch's start (the same on every rank, and restored by a resume),
    the rank and the layer, so each rank's stream differs and a resumed run draws the same."""
    text = json.dumps(shared_state, sort_keys=True).encode()
    key = int.from_bytes(hashlib.sha256(text).digest()[:8], "little")
    return np.random.SeedSequence([key, rank, layer])
