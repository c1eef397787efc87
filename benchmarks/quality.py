"""How well ``handgrad train`` learns real data: the README's commands, run and timed.

Each benchmark is one ``handgrad train`` command on a built-in data set, with a goal for the test
accuracy:

* digits (scikit-learn's 8×8 images): 97 % with an MLP, 98.5 % with a CNN;
* MNIST-1D: 68 %, what the MNIST-1D paper reports for its MLP; 94 % with a CNN of 1-D
  convolutions, what the paper reports for its CNN;
* Fashion-MNIST: 89 % with an MLP (scikit-learn's ``MLPClassifier`` with one hidden layer of 100
  is listed at about 87.7 % in the data set's own benchmark); 91.5 % with a small CNN in 10
  epochs, and 92.5 % with a deeper one with batch norm and dropout (the data set's table lists
  2-convolution networks at 87.6–92.5 %, 3 with dropout at 92.6 %).

The commands run in a new process each, as a user would run them; the time is the process's wall
time, loading the data included. The test accuracy is read back from the saved model's metadata.
Results go to ``benchmarks/results/quality.json`` and ``quality.md``, with the machine's load
average, since other work on the machine slows a run down.

Run:  python benchmarks/quality.py [--only NAME ...] [--epochs N] [--limit ROWS]
(``--epochs`` and ``--limit`` make a quick run for checking the script; its results are marked as
such and are not the README's figures.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Benchmark:
    name: str
    goal: float
    args: tuple[str, ...]

    def command(self, out: str, overrides: dict[str, str]) -> list[str]:
        args = list(self.args)
        for option, value in overrides.items():
            if option in args:
                args[args.index(option) + 1] = value
            else:
                args += [option, value]
        return ["handgrad", "train", *args, "--out", out]


DIGITS_CNN = "conv32k3,bn,conv32k3,bn,maxpool2,drop0.2,conv64k3,bn,gap"
FASHION_DEEP = (
    "conv32k3,bn,conv32k3,bn,maxpool2,drop0.25,conv64k3,bn,conv64k3,bn,maxpool2,drop0.25,256"
)

BENCHMARKS = (
    Benchmark(
        "digits",
        0.97,
        ("--dataset", "digits", "--layers", "128,64", "--dropout", "0.1", "--epochs", "30",
         "--schedule", "cosine", "--seed", "0"),
    ),
    Benchmark(
        "mnist1d",
        0.68,
        ("--dataset", "mnist1d", "--layers", "512,512,512", "--dropout", "0.3", "--epochs", "150",
         "--batch-size", "128", "--schedule", "cosine", "--seed", "0"),
    ),
    Benchmark(
        "fashion-mnist",
        0.89,
        ("--dataset", "fashion-mnist", "--layers", "256,128", "--dropout", "0.2", "--epochs",
         "20", "--batch-size", "128", "--schedule", "cosine", "--seed", "0"),
    ),
    Benchmark(
        "digits-cnn",
        0.985,
        ("--dataset", "digits", "--layers", DIGITS_CNN, "--epochs", "60", "--lr", "0.003",
         "--schedule", "cosine", "--seed", "0"),
    ),
    Benchmark(
        "mnist1d-cnn",
        0.94,
        ("--dataset", "mnist1d", "--layers",
         "conv32k5,bn,maxpool2,conv64k5,bn,maxpool2,conv64k3,bn,gap,128", "--dropout", "0.2",
         "--epochs", "60", "--batch-size", "64", "--schedule", "cosine", "--seed", "0"),
    ),
    Benchmark(
        "fashion-mnist-cnn",
        0.915,
        ("--dataset", "fashion-mnist", "--layers", "conv32k3,maxpool2,conv64k3,maxpool2,128",
         "--epochs", "10", "--batch-size", "128", "--schedule", "cosine", "--seed", "0"),
    ),
    Benchmark(
        "fashion-mnist-cnn-bn",
        0.925,
        ("--dataset", "fashion-mnist", "--layers", FASHION_DEEP, "--dropout", "0.4", "--epochs",
         "10", "--batch-size", "128", "--schedule", "cosine", "--seed", "0"),
    ),
)  # fmt: skip


def run_one(bench: Benchmark, folder: Path, overrides: dict[str, str]) -> dict:
    """Run the benchmark's command; its figures, its time and whether it met its goal."""
    # Run in ``folder``, so that the command, as recorded, names the model file as a user would.
    model = f"{bench.name}.safetensors"
    command = bench.command(model, overrides)
    argv = [sys.executable, "-m", "handgrad.cli", *command[1:], "--verbose", "2"]
    print(f"$ {shlex.join(command)}", flush=True)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    # stderr (one line per epoch) is passed through, so a long run shows where it is
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False, cwd=folder)
    seconds = time.perf_counter() - start
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"{bench.name}: handgrad train exited with {done.returncode}")
    import handgrad as hg

    meta = hg.load(folder / model).metadata
    test = meta["results"]["test"]
    return {
        "name": bench.name,
        "command": shlex.join(command),
        "goal": bench.goal,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "met": test["accuracy"] >= bench.goal,
        "epochs_run": meta["training"]["epochs_run"],
        "seconds": round(seconds, 1),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
    }


def machine() -> dict:
    import numpy as np

    import handgrad as hg

    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "handgrad": hg.__version__,
        "platform": platform.platform(),
    }


def markdown(report: dict) -> str:
    lines = [
        "| data set | test accuracy | goal | met | epochs | time (s) | load average |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['name']} | {r['test_accuracy']:.2%} | {r['goal'] * 100:g}% | "
            f"{'yes' if r['met'] else 'no'} | {r['epochs_run']} | {r['seconds']:.0f} | "
            f"{r['load_average_before']:.1f} → {r['load_average_after']:.1f} |"
        )
    m = report["machine"]
    lines += [
        "",
        f"{m['date']}; {m['cpu_count']} cores, Python {m['python']}, NumPy {m['numpy']}, "
        f"handgrad {m['handgrad']}. Load average: the machine's 1-minute load before and after "
        "the run (above the core count, other work was sharing the cores).",
    ]
    if report["overrides"]:
        lines += ["", f"A quick run, not the benchmark: {report['overrides']}."]
    lines += ["", "```sh"] + [r["command"] for r in report["results"]] + ["```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=names, help="run only these benchmarks")
    parser.add_argument("--epochs", help="override the epochs (a quick run)")
    parser.add_argument("--limit", help="train on the first ROWS rows only (a quick run)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the results")
    args = parser.parse_args(argv)
    overrides = {}
    if args.epochs:
        overrides["--epochs"] = args.epochs
    if args.limit:
        overrides["--limit"] = args.limit
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    with tempfile.TemporaryDirectory() as folder:
        results = [run_one(b, Path(folder), overrides) for b in chosen]
    report = {"machine": machine(), "overrides": overrides, "results": results}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "quality.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.results / "quality.md").write_text(markdown(report))
    print(markdown(report))
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
