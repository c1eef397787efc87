"""Where handgrad's training time goes: ``python benchmarks/profile_fit.py [--batch-size 128]``.

Runs one epoch of ``model.fit`` on the benchmark's workload under cProfile, at one BLAS thread
unless ``--threads`` says otherwise, and prints the functions that took the most time of their
own next to the GEMM floor of the same epoch. The matrix products show up inside
``Dense.forward`` and the backward functions; everything else in the list is overhead.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--n-samples", type=int, default=60000)
    p.add_argument("--data", choices=("auto", "fashion-mnist", "synthetic"), default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--top", type=int, default=20, help="functions to list")
    args = p.parse_args(argv)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # before NumPy loads its BLAS
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    import handgrad as hg
    from benchmarks.contenders.gemm_floor import GemmStep, run_epoch
    from benchmarks.contenders.handgrad_mlp import build
    from benchmarks.workload import Spec, initial_weights, make_data

    spec = Spec(data=args.data, n_samples=args.n_samples, batch_size=args.batch_size)
    X, y, name = make_data(spec)
    weights = [
        (W.astype("float32"), b.astype("float32")) for W, b in initial_weights(spec.layers, 0)
    ]
    model = build(weights, "float32")
    loss = hg.CrossEntropyLoss()

    def optimizer():
        if args.optimizer == "sgd":
            return hg.SGD(model.parameters(), lr=spec.sgd_lr)
        return hg.Adam(model.parameters(), lr=spec.adam_lr)

    fit = {"loss": loss, "batch_size": args.batch_size, "shuffle": False}
    model.fit(X[:1024], y[:1024], optimizer=optimizer(), **fit)  # warm-up
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    model.fit(X, y, optimizer=optimizer(), **fit)
    profiler.disable()
    profiled = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.fit(X, y, optimizer=optimizer(), **fit)
    plain = time.perf_counter() - t0
    gemm = GemmStep([W for W, _ in weights], args.batch_size, "float32")
    run_epoch(gemm, X[:1024], args.batch_size)
    t0 = time.perf_counter()
    run_epoch(gemm, X, args.batch_size)
    floor = time.perf_counter() - t0

    print(f"{len(X)} rows of {name}, batch {args.batch_size}, {args.optimizer}, {args.threads}T")
    print(f"fit: {plain:.3f} s (under the profiler {profiled:.3f} s); GEMM floor {floor:.3f} s")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
