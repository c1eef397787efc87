"""Plans the measurements, runs each in a fresh child process, interleaved, and collects them.

Interleaving: the epoch jobs of every contender and thread count form one round; the rounds are
repeated, each starting one job later than the last, so that a slow spell on this shared machine
falls on every contender alike rather than on whichever ran during it. Latency rounds follow,
then the sweep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .workload import Spec, prepare

ROOT = Path(__file__).resolve().parents[1]

PARTS = ("epoch", "float64", "latency", "sweep")
CONTENDERS = ("handgrad", "torch", "torch-dataloader", "sklearn", "floor")
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Options:
    parts: tuple[str, ...] = PARTS
    contenders: tuple[str, ...] = CONTENDERS
    threads: tuple[int, ...] = (1, 2)
    repeats: int = 5
    latency_repeats: int = 3
    budget: float = 0.4  # seconds of calls per latency figure and per sweep point
    sweep_rounds: int = 3
    sweep_batches: tuple[int, ...] = tuple(2**k for k in range(13))
    sweep_widths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
    predict_sizes: tuple[int, ...] = (1, 1000)
    step_sizes: tuple[int, ...] = (1, 16, 128, 1024)
    timeout: float = 900.0
    spec: Spec = field(default_factory=Spec)


@dataclass
class Job:
    kind: str
    contender: str
    threads: int
    args: dict
    tag: str = ""  # which table the result belongs to, e.g. the sweep over "batch" or "width"

    def describe(self) -> str:
        extra = " ".join(str(v) for k, v in self.args.items() if k in ("optimizer", "dtype"))
        if self.kind == "sweep":
            extra = f"layers={self.args['layers']} batch={self.args['batch_size']}"
        return f"{self.kind} {self.contender} {extra} {self.threads}T".replace("  ", " ")


def epoch_jobs(opts: Options) -> list[Job]:
    jobs = []
    for threads in opts.threads:
        if "epoch" in opts.parts:
            for contender in opts.contenders:
                for optimizer in ("sgd", "adam"):
                    if contender == "floor":
                        if optimizer == "adam":
                            continue
                        args = {"dtype": "float32"}
                    else:
                        args = {"optimizer": optimizer, "dtype": "float32"}
                    jobs.append(Job("epoch", contender, threads, args))
        if "float64" in opts.parts:
            if "handgrad" in opts.contenders:
                jobs.append(
                    Job("epoch", "handgrad", threads, {"optimizer": "sgd", "dtype": "float64"})
                )
            if "floor" in opts.contenders:
                jobs.append(Job("epoch", "floor", threads, {"dtype": "float64"}))
    return jobs


def latency_jobs(opts: Options) -> list[Job]:
    if "latency" not in opts.parts:
        return []
    args = {
        "predict_sizes": list(opts.predict_sizes),
        "step_sizes": list(opts.step_sizes),
        "budget": opts.budget,
    }
    return [
        Job("latency", contender, threads, dict(args))
        for threads in opts.threads
        for contender in opts.contenders
        if contender != "torch-dataloader"
    ]


def sweep_jobs(opts: Options) -> list[Job]:
    """Batch sizes at the reference architecture, then hidden widths ``784-w-w/2-10`` at the
    reference batch size (``w = 256`` is the reference network), at the first thread count."""
    if "sweep" not in opts.parts:
        return []
    spec, threads = opts.spec, opts.threads[0]
    common = {"budget": opts.budget, "rounds": opts.sweep_rounds}
    jobs = [
        Job(
            "sweep",
            "handgrad",
            threads,
            {"layers": list(spec.layers), "batch_size": b, **common},
            tag="batch",
        )
        for b in opts.sweep_batches
    ]
    n_in, n_out = spec.layers[0], spec.layers[-1]
    jobs += [
        Job(
            "sweep",
            "handgrad",
            threads,
            {"layers": [n_in, w, max(1, w // 2), n_out], "batch_size": spec.batch_size, **common},
            tag="width",
        )
        for w in opts.sweep_widths
    ]
    return jobs


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class Runner:
    """Runs jobs one at a time, each in a new Python process, and reports progress on stderr."""

    def __init__(self, work_dir: Path, opts: Options, total: int, log=sys.stderr):
        self.work_dir = work_dir
        self.opts = opts
        self.total = total
        self.done = 0
        self.log = log
        self.started = time.perf_counter()

    def __call__(self, job: Job) -> dict:
        self.done += 1
        job_path = self.work_dir / f"job-{self.done}.json"
        out_path = self.work_dir / f"result-{self.done}.json"
        spec = {
            "kind": job.kind,
            "contender": job.contender,
            "threads": job.threads,
            "args": job.args,
            "work": str(self.work_dir),
            "out": str(out_path),
        }
        job_path.write_text(json.dumps(spec))
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.child", str(job_path)],
            cwd=ROOT,
            env=child_env(job.threads),
            capture_output=True,
            text=True,
            timeout=self.opts.timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"the child process for '{job.describe()}' failed (exit {proc.returncode}):\n"
                f"{proc.stderr[-4000:]}"
            )
        result = json.loads(out_path.read_text())
        elapsed = time.perf_counter() - self.started
        figure = f"{result['seconds']:.3f} s" if "seconds" in result else "done"
        print(
            f"[{self.done}/{self.total} {elapsed:6.0f}s] {job.describe()}: {figure}",
            file=self.log,
            flush=True,
        )
        return result


def interleave(jobs: list[Job], repeats: int) -> list[tuple[int, Job]]:
    """``repeats`` rounds over ``jobs``, round r starting at job r (mod the count)."""
    order = []
    for r in range(repeats):
        k = r % len(jobs) if jobs else 0
        order += [(r, job) for job in jobs[k:] + jobs[:k]]
    return order


def run(opts: Options) -> dict:
    """Prepare the workload, run every planned job, and return the raw measurements."""
    if not opts.threads:
        raise ValueError("threads must name at least one thread count, got none")
    unknown = set(opts.parts) - set(PARTS)
    if unknown:
        raise ValueError(f"parts must be among {PARTS}, got {sorted(unknown)}")
    unknown = set(opts.contenders) - set(CONTENDERS)
    if unknown:
        raise ValueError(f"contenders must be among {CONTENDERS}, got {sorted(unknown)}")
    plan = (
        interleave(epoch_jobs(opts), opts.repeats)
        + interleave(latency_jobs(opts), opts.latency_repeats)
        + interleave(sweep_jobs(opts), 1)
    )
    raw: dict = {"epoch": [], "latency": [], "sweep": [], "load": [_load()]}
    with tempfile.TemporaryDirectory(prefix="handgrad-bench-") as tmp:
        work_dir = Path(tmp)
        t0 = time.perf_counter()
        spec = prepare(opts.spec, work_dir)
        print(
            f"prepared {spec.n_samples} rows of {spec.extra['data_name']} in "
            f"{time.perf_counter() - t0:.1f} s; {len(plan)} measurements to run",
            file=sys.stderr,
        )
        runner = Runner(work_dir, opts, len(plan))
        for round_index, job in plan:
            result = runner(job)
            raw[job.kind].append(
                {
                    "contender": job.contender,
                    "threads": job.threads,
                    "args": job.args,
                    "tag": job.tag,
                    "round": round_index,
                    "result": result,
                }
            )
        raw["seconds"] = time.perf_counter() - runner.started
    raw["load"].append(_load())
    return raw


def _load() -> float | None:
    """The 1-minute load average: how busy the machine was with other work."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None
