"""One measurement in a fresh process: ``python -m benchmarks.child JOB.json``.

The job file names the work directory, what to measure (``kind``), the contender and its
arguments, the thread count, and where to write the result (JSON). The parent sets the BLAS and
OpenMP thread counts in this process's environment before it starts, since they are read when
the libraries load; PyTorch also gets ``torch.set_num_threads``. Only the contender's own
libraries are imported, so the peak resident memory reported is that contender's.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from .timing import peak_rss_bytes
from .workload import Work

MODULES = {
    "handgrad": "handgrad_mlp",
    "torch": "torch_mlp",
    "torch-dataloader": "torch_mlp",
    "sklearn": "sklearn_mlp",
    "floor": "gemm_floor",
}


def run(job: dict) -> dict:
    contender = job["contender"]
    if contender not in MODULES:
        raise ValueError(f"contender must be one of {sorted(MODULES)}, got {contender!r}")
    if contender.startswith("torch"):
        import torch

        torch.set_num_threads(job["threads"])
    module = importlib.import_module(f".contenders.{MODULES[contender]}", __package__)
    work = Work.open(Path(job["work"]))
    kind, args = job["kind"], dict(job.get("args", {}))
    if kind == "epoch":
        if contender == "torch-dataloader":
            args["loop"] = "dataloader"
        result = module.epoch(work, **args)
    elif kind == "latency":
        result = {"rows": module.latency(work, **args)}
    elif kind == "sweep":
        result = module.sweep_point(work, **args)
    else:
        raise ValueError(f"kind must be 'epoch', 'latency' or 'sweep', got {kind!r}")
    result["peak_rss"] = peak_rss_bytes()
    result["blas_threads"] = _blas_threads()
    return result


def _blas_threads() -> list[int] | None:
    """The thread counts the loaded BLAS libraries report, to confirm the environment took."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return sorted({int(info["num_threads"]) for info in threadpool_info()})


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m benchmarks.child JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[1]).read_text())
    result = run(job)
    Path(job["out"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
