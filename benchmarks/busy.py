"""The README's training commands on a busy machine: the default settings against explicit threads.

``python benchmarks/busy.py [--repeats 3] [--only digits,fashion-mnist] [--idle]``

Another process keeps one core busy (a Python loop, started before the timed runs and stopped
after them); each of the README's ``handgrad train`` commands (digits; Fashion-MNIST for 2
epochs) then runs with the default settings and with ``--threads 1`` and ``--threads N`` (N the
cores this process may use), in turn, round after round. Printed per command: each setting's
median and best wall time, and the default's median over the best explicit setting's median —
the figure ``docs/performance.md`` quotes. ``--idle`` runs the same without the busy process.
The figures also go to ``benchmarks/results/busy.json`` (or ``idle.json``) with the machine and
the load average before and after (above the core count, more than the busy loop shared them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402

COMMANDS = {
    "digits": [
        "--dataset", "digits", "--layers", "128,64", "--dropout", "0.1", "--epochs", "30",
        "--schedule", "cosine", "--seed", "0",
    ],
    "fashion-mnist": [
        "--dataset", "fashion-mnist", "--layers", "256,128", "--dropout", "0.2", "--epochs", "2",
        "--batch-size", "128", "--schedule", "cosine", "--seed", "0",
    ],
}  # fmt: skip


def busy_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run(args: list[str], out: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    cmd = [sys.executable, "-m", "handgrad.cli", "train", *args, "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", default=",".join(COMMANDS))
    p.add_argument("--idle", action="store_true", help="no busy process: the reference")
    args = p.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    settings = {"default": [], "--threads 1": ["--threads", "1"]}
    if cores > 1:
        settings[f"--threads {cores}"] = ["--threads", str(cores)]
    load = "idle" if args.idle else "one core kept busy by another process"
    print(f"{describe()['cpu']}, {cores} cores; {load}", flush=True)
    busy = None if args.idle else busy_process()
    report = {"machine": describe(), "load": load, "repeats": args.repeats, "commands": {}}
    report["load_average_before"] = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.only.split(","):
                times: dict[str, list[float]] = {s: [] for s in settings}
                for r in range(args.repeats):
                    order = (
                        list(settings)[r % len(settings) :] + list(settings)[: r % len(settings)]
                    )
                    for setting in order:
                        out = Path(tmp) / f"{name}.safetensors"
                        times[setting].append(run(COMMANDS[name] + settings[setting], out))
                medians = {s: statistics.median(t) for s, t in times.items()}
                best = min((s for s in settings if s != "default"), key=medians.get)
                rows = ", ".join(
                    f"{s} {medians[s]:.1f} s (best {min(times[s]):.1f})" for s in settings
                )
                ratio = medians["default"] / medians[best]
                print(f"{name}: {rows}; default / best explicit ({best}) = {ratio:.2f}", flush=True)
                report["commands"][name] = {
                    "argv": ["handgrad", "train", *COMMANDS[name]],
                    "seconds": times,
                    "medians": medians,
                    "best_explicit": best,
                    "default_over_best": ratio,
                }
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    report["load_average_after"] = os.getloadavg()[0]
    out = ROOT / "benchmarks" / "results" / ("idle.json" if args.idle else "busy.json")
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"load average {report['load_average_before']:.1f} → {report['load_average_after']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
