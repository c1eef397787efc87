"""Data-parallel training over MPI on this machine: throughput, communication, and a scaling model.

Run from the repository (with the mpi extra installed)::

    python benchmarks/distributed.py            # everything below, about a minute
    python benchmarks/distributed.py --json out.json

It measures, for the reference MLP 784-256-128-10 in float32 (235,146 parameters, a 940,584-byte
gradient) on synthetic data, each rank with one BLAS thread:

1. **training throughput** (samples/s) of ``fit`` on 1 and 2 ranks at several global batch sizes,
   with plain single-process ``fit`` as the baseline, and the share of each step spent in the
   gradient sum (``reduce_gradients``: scaling, all-reduce, and waiting for the slower rank); as
   a control, two plain fits at once, each on half the rows and half the batch, without any
   communication: their combined throughput is what the machine's cores give two processes;
2. **the all-reduce alone** for 2 ranks as a function of the message size (fastest and median of
   many), from which it fits the latency α and the inverse bandwidth β of ``t(n) = 2α + n·β`` to
   the fastest: what the machine can do when other processes leave it alone;
3. **the step time** of one process (forward, backward, update) as a function of its rows m,
   with the line ``a + b·m`` fitted to it.

Then it *models* the step time on P ranks for a global batch B as ``a + b·B/P`` (the step time
fitted in 3) plus one all-reduce of the 940,584-byte gradient, costed as MPICH's large-message
algorithm (reduce-scatter then all-gather), ``2·log2(P)·α + 2·(P−1)/P·n·β``, and prints the
modelled throughput for P = 1…64, once with the α, β measured here (ranks on one machine, shared
memory) and once for an assumed 10 Gb/s Ethernet, whose figures are assumptions, not
measurements.

Subcommands run under mpiexec (the driver launches them): ``train``, ``allreduce``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # after the thread settings, which BLAS reads when it loads

import handgrad as hg

LAYERS = (784, 256, 128, 10)
N_PARAMS = sum(a * b + b for a, b in itertools.pairwise(LAYERS))
GRAD_BYTES = 4 * N_PARAMS
ROWS = 16384
BATCHES = (128, 512, 2048)
#: An assumed cluster network for the model, not measured here (this machine has no network to
#: other hosts): 10 Gb/s Ethernet with TCP, taken as 1.1 GB/s of payload and 30 µs per message.
NETWORK = {"name": "10 GbE (assumed)", "alpha": 30e-6, "beta": 1 / 1.1e9}


def mlp(seed: int = 0) -> hg.Sequential:
    rng = np.random.default_rng(seed)
    layers: list = []
    for a, b in itertools.pairwise(LAYERS):
        layers += [hg.Dense(a, b, rng=rng, dtype=np.float32), hg.ReLU()]
    return hg.Sequential(layers[:-1])


def synthetic(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((rows, LAYERS[0]), dtype=np.float32), rng.integers(0, LAYERS[-1], rows)


# Under mpiexec ----------------------------------------------------------------------------------


def train(batches: list[int], epochs: int) -> None:
    """Each rank trains on its shard; rank 0 prints one JSON line per batch size."""
    from handgrad.distributed import DataParallel, ProcessGroup, shard

    group = ProcessGroup()
    rows = shard(ROWS, group.rank, group.size)
    X, y = synthetic(rows.stop - rows.start, seed=group.rank)
    spent = [0.0]
    reduce = DataParallel.reduce_gradients

    def timed(self, n_rows):
        start = time.perf_counter()
        try:
            return reduce(self, n_rows)
        finally:
            spent[0] += time.perf_counter() - start

    DataParallel.reduce_gradients = timed
    for batch in batches:
        model = mlp()
        optimizer = hg.SGD(model.parameters(), lr=0.01)
        spent[0] = 0.0
        history = model.fit(
            X, y, loss=hg.CrossEntropyLoss(), optimizer=optimizer, batch_size=batch,
            epochs=epochs, seed=0, metrics=None, distributed=group,
        )  # fmt: skip
        best = min(history["time"][1:])  # the first epoch warms up
        if group.rank == 0:
            total = sum(history["time"])
            print(json.dumps({
                "ranks": group.size, "batch": batch, "samples_per_s": ROWS / best,
                "epoch_s": best, "reduce_share": spent[0] / total,
            }), flush=True)  # fmt: skip


def independent(batches: list[int], epochs: int) -> None:
    """The control: each rank trains alone (no communication) on its shard with the rows per step
    it has in ``train``; rank 0 prints the throughput of all ranks together. It shows how much
    parallel capacity the machine gives at the moment."""
    from mpi4py import MPI

    from handgrad.distributed import ProcessGroup, shard

    group = ProcessGroup()
    rows = shard(ROWS, group.rank, group.size)
    X, y = synthetic(rows.stop - rows.start, seed=group.rank)
    for batch in batches:
        model = mlp()
        history = model.fit(
            X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.01),
            batch_size=batch // group.size, epochs=epochs, seed=0, metrics=None,
        )  # fmt: skip
        slowest = np.array([min(history["time"][1:])])
        group.comm.Allreduce(MPI.IN_PLACE, slowest, op=MPI.MAX)
        if group.rank == 0:
            print(json.dumps({"ranks": group.size, "batch": batch,
                              "samples_per_s": ROWS / slowest[0]}), flush=True)  # fmt: skip


def allreduce(sizes: list[int], repeats: int) -> None:
    """Fastest and median time of an in-place float32 all-reduce per message size, each started
    right after a barrier."""
    from handgrad.distributed import ProcessGroup

    group = ProcessGroup()
    for n in sizes:
        buf = np.ones(n, dtype=np.float32)
        times = []
        for _ in range(repeats if n < 1 << 20 else max(5, repeats // 10)):
            group.comm.Barrier()
            start = time.perf_counter()
            group.allreduce(buf, "the benchmark's all-reduce")
            times.append(time.perf_counter() - start)
        if group.rank == 0:
            print(json.dumps({"bytes": 4 * n, "seconds": float(np.min(times)),
                              "median": float(np.median(times))}), flush=True)  # fmt: skip


# In one process ---------------------------------------------------------------------------------


def plain_fit(batches: list[int], epochs: int) -> list[dict]:
    """Samples/s of single-process fit, no MPI at all."""
    X, y = synthetic(ROWS, seed=0)
    out = []
    for batch in batches:
        model = mlp()
        history = model.fit(
            X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.01),
            batch_size=batch, epochs=epochs, seed=0, metrics=None,
        )  # fmt: skip
        best = min(history["time"][1:])
        out.append({"ranks": "fit", "batch": batch, "samples_per_s": ROWS / best})
    return out


def step_times(rows_per_step: list[int], repeats: int = 15) -> dict[int, float]:
    """Seconds of one training step (forward, loss, backward, SGD update) on m rows, best of
    ``repeats`` runs of enough steps to cover 2048 rows."""
    model, loss = mlp(), hg.CrossEntropyLoss()
    optimizer = hg.SGD(model.parameters(), lr=0.01)
    X, y = synthetic(max(rows_per_step), seed=1)
    out = {}
    for m in rows_per_step:
        xb, yb = X[:m], y[:m]
        steps = max(1, 2048 // m)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                loss._forward(model._forward(xb), yb)
                model.backward_params(loss.backward())
                optimizer.step()
            times.append((time.perf_counter() - start) / steps)
        out[m] = float(np.min(times))
    return out


def fit_line(x, t) -> tuple[float, float]:
    """Least squares of t ≈ a + b·x, each point weighted by 1/t (relative errors count alike)."""
    x, t = np.asarray(x, dtype=float), np.asarray(t, dtype=float)
    A = np.stack([np.ones_like(x), x], axis=1) / t[:, None]
    a, b = np.linalg.lstsq(A, np.ones_like(t), rcond=None)[0]
    return float(a), float(b)


def allreduce_seconds(P: int, n_bytes: int, alpha: float, beta: float) -> float:
    """MPICH's large-message all-reduce (Rabenseifner: reduce-scatter, then all-gather):
    ``2·log2(P)·α + 2·(P−1)/P·n·β``; 0 for one rank."""
    if P == 1:
        return 0.0
    return 2 * np.log2(P) * alpha + 2 * (P - 1) / P * n_bytes * beta


def modelled(P: int, B: int, step: tuple[float, float], alpha: float, beta: float) -> tuple:
    """(samples/s, communication share of the step) of P ranks at global batch B, with a step of
    m rows taking ``a + b·m`` and one all-reduce of the gradient per step."""
    a, b = step
    compute = a + b * B / P
    comm = allreduce_seconds(P, GRAD_BYTES, alpha, beta)
    return B / (compute + comm), comm / (compute + comm)


def run_mpi(n: int, *args: str) -> list[dict]:
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or "mpiexec"
    command = [mpiexec, "-launcher", "fork", "-n", str(n), sys.executable, __file__, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "mode", nargs="?", default="all", choices=["all", "train", "independent", "allreduce"]
    )
    parser.add_argument("--epochs", type=int, default=6, help="per run; the best is reported")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    sizes = [1, 16, 256, 4096, 65536, N_PARAMS, 1 << 20, 1 << 21]
    if args.mode == "train":
        return train(list(BATCHES), args.epochs)
    if args.mode == "independent":
        return independent(list(BATCHES), args.epochs)
    if args.mode == "allreduce":
        return allreduce(sizes, repeats=200)

    results: dict = {"params": N_PARAMS, "gradient_bytes": GRAD_BYTES, "rows": ROWS}
    # The machine may be shared: the load before the run says how much of it was free.
    results["load_average_before"] = os.getloadavg()[0]
    results["fit"] = plain_fit(list(BATCHES), args.epochs)
    results["train"] = run_mpi(1, "train", "--epochs", str(args.epochs))
    results["train"] += run_mpi(2, "train", "--epochs", str(args.epochs))
    results["independent"] = run_mpi(2, "independent", "--epochs", str(args.epochs))
    print(
        f"load average before the run: {results['load_average_before']:.2f} "
        f"on {os.cpu_count()} cores"
    )
    print(
        f"\nTraining, MLP 784-256-128-10 float32, {ROWS} rows, 1 BLAS thread per rank, best epoch"
    )
    print("| ranks | global batch | samples/s | gradient-sum share of the step |")
    print("|---|---|---|---|")
    for r in results["fit"]:
        print(f"| plain fit | {r['batch']} | {r['samples_per_s']:,.0f} | - |")
    for r in results["train"]:
        share = f"{100 * r['reduce_share']:.1f} %"
        print(f"| {r['ranks']} | {r['batch']} | {r['samples_per_s']:,.0f} | {share} |")
    for r in results["independent"]:
        name = f"{r['ranks']} independent fits, B/{r['ranks']} rows each"
        print(f"| {name} | {r['batch']} | {r['samples_per_s']:,.0f} | none |")

    points = run_mpi(2, "allreduce")
    two_alpha, beta = fit_line([p["bytes"] for p in points], [p["seconds"] for p in points])
    alpha = two_alpha / 2  # on 2 ranks the all-reduce costs 2α + n·β
    results["allreduce"] = points
    results["alpha_beta"] = [alpha, beta]
    print("\nAll-reduce of float32, 2 ranks on this machine; 2α + n·β fitted to the fastest")
    print("| bytes | fastest µs | median µs | fitted µs |")
    print("|---|---|---|---|")
    for p in points:
        fitted = 1e6 * allreduce_seconds(2, p["bytes"], alpha, beta)
        measured = f"{1e6 * p['seconds']:.1f} | {1e6 * p['median']:.1f}"
        print(f"| {p['bytes']:,} | {measured} | {fitted:.1f} |")
    print(f"α = {1e6 * alpha:.2f} µs per message, 1/β = {1e-9 / beta:.2f} GB/s")

    rows = [2**k for k in range(12)]
    steps = step_times(rows)
    step = fit_line(rows, [steps[m] for m in rows])
    results["step_seconds"] = steps
    results["step_line"] = step
    print("\nOne training step on m rows, one process, 1 thread (best of 15), a + b·m fitted")
    print("| rows m | measured ms | µs per row | fitted ms |")
    print("|---|---|---|---|")
    for m, t in steps.items():
        print(f"| {m} | {1e3 * t:.3f} | {1e6 * t / m:.2f} | {1e3 * (step[0] + step[1] * m):.3f} |")
    print(f"a = {1e6 * step[0]:.0f} µs per step, b = {1e6 * step[1]:.2f} µs per row")

    results["model"] = []
    for name, a, b in (("ranks on one machine: α, β measured here", alpha, beta),
                       (NETWORK["name"], NETWORK["alpha"], NETWORK["beta"])):  # fmt: skip
        print(f"\nModelled samples/s (communication share of the step), {name}")
        ranks = (1, 2, 4, 8, 16, 32, 64)
        print("| global batch | " + " | ".join(f"P={p}" for p in ranks) + " |")
        print("|---" * (len(ranks) + 1) + "|")
        for B in BATCHES:
            cells = []
            for p in ranks:
                rate, share = modelled(p, B, step, a, b)
                cells.append(f"{rate:,.0f} ({100 * share:.0f} %)")
                results["model"].append([name, B, p, rate, share])
            print(f"| {B} | " + " | ".join(cells) + " |")
    results["load_average_after"] = os.getloadavg()[0]
    print(f"\nload average after the run: {results['load_average_after']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
