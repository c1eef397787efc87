"""How fast ``handgrad.datasets.load_csv`` reads a large CSV file, and how much memory it takes.

The file has Fashion-MNIST's columns, written as text: 35,000 rows of 784 pixel columns (integers
0–255, half of them 0) and a label, about 76 MB. Each reading runs in a fresh
process, so that its peak resident memory is its own, and the readers take turns, run after run
(interleaved, so that the machine's noise falls on all of them alike):

* ``load_csv (pyarrow)``: handgrad's reader with pyarrow installed (the ``cli`` extra);
* ``load_csv (csv module)``: the same call without pyarrow, the :mod:`csv` module reading;
* ``pyarrow.csv parse alone``: ``pyarrow.csv.read_csv(path)`` with its default options, the file
  parsed into Arrow columns and nothing more (handgrad's reader asks pyarrow for less type
  inference, so it can take less time than this).

Each reader is run with pyarrow on 1 thread (the ratios quoted) and on every core. Reported per
reader: the median and best time, the reading speed in MB/s of file, the peak resident memory of
the process less its memory before reading, as a multiple of the float64 matrix ``X`` that
``load_csv`` returns, and ratios of times against the floor in the same run.

    python benchmarks/csv_reading.py [--repeats 5] [--rows 35000] [--out benchmarks/results]

Goal (issue 13): at least 50 MB/s, with a peak of at most 3× the numeric array.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import machine  # noqa: E402

#: What a child process runs: read the file one way, and report the time and the memory.
CHILD = r"""
import json, sys, time
engine, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
import numpy as np
import pyarrow, pyarrow.csv
if threads:
    pyarrow.set_cpu_count(threads)
    pyarrow.set_io_thread_count(threads)
from handgrad import datasets
from handgrad.datasets import table
def status(field):
    # VmHWM, not getrusage's ru_maxrss, which keeps the high-water mark of the process that
    # started this one (Linux carries it across exec).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
before = status("VmRSS")
start = time.perf_counter()
if engine == "floor":
    frame = pyarrow.csv.read_csv(path)  # parsed into Arrow columns, and no further
    X = np.zeros((frame.num_rows, frame.num_columns - 1))
    X[:, 0] = frame.column(0).to_numpy()  # the checksum of the first column only
    X[:, 1:] = np.nan
else:
    if engine == "csv":
        table._pyarrow = lambda required: None  # as if pyarrow were not installed
    ds = datasets.load_csv(path, "label")
    X = ds.X_train
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({"seconds": seconds, "before": before, "peak": peak, "nbytes": X.nbytes,
                  "shape": list(X.shape), "checksum": float(X.sum())}))
"""

READERS = {
    "load_csv (pyarrow)": "pyarrow",
    "load_csv (csv module)": "csv",
    "pyarrow.csv parse alone": "floor",
}


def make_file(path: Path, rows: int, seed: int = 0) -> None:
    """Pixel-like integers: zero with probability 0.5, else uniform in 1..255."""
    rng = np.random.default_rng(seed)
    header = ",".join([f"pixel{j}" for j in range(784)] + ["label"])
    with open(path, "w") as f:
        f.write(header + "\n")
        for start in range(0, rows, 5000):
            n = min(5000, rows - start)
            pixels = rng.integers(1, 256, (n, 784)) * (rng.random((n, 784)) < 0.5)
            labels = rng.integers(0, 10, (n, 1))
            block = np.hstack([pixels, labels]).astype(str)
            f.write("\n".join(",".join(row) for row in block) + "\n")


def run_child(engine: str, path: Path, threads: int) -> dict:
    cmd = [sys.executable, "-c", CHILD, engine, str(path), str(threads)]
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=35000)  # about 76 MB
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="handgrad-csv-"))
    path = folder / "pixels.csv"
    make_file(path, args.rows)
    size = path.stat().st_size
    runs: dict[tuple[str, int], list[dict]] = {}
    for repeat in range(args.repeats):
        for threads in (1, 0):
            for name, engine in READERS.items():
                result = run_child(engine, path, threads)
                runs.setdefault((name, threads), []).append(result)
                print(
                    f"run {repeat + 1}/{args.repeats} {name:<22} threads {threads or 'all'}: "
                    f"{result['seconds']:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
    checksums = {r["checksum"] for (name, _), rs in runs.items() for r in rs if "alone" not in name}
    if len(checksums) != 1:
        raise SystemExit(f"the readers disagree: checksums {sorted(checksums)}")
    rows = []
    for (name, threads), results in runs.items():
        times = [r["seconds"] for r in results]
        growth = max(r["peak"] - r["before"] for r in results)
        nbytes = runs[("load_csv (pyarrow)", threads)][0]["nbytes"]
        floor = statistics.median(r["seconds"] for r in runs[("pyarrow.csv parse alone", threads)])
        median = statistics.median(times)
        rows.append(
            {
                "reader": name,
                "threads": threads or "all",
                "median_s": median,
                "best_s": min(times),
                "mb_per_s": size / 1e6 / median,
                "peak_growth_bytes": growth,
                "peak_over_X": growth / nbytes,
                "peak_over_X_float32": growth / (nbytes / 2),
                "time_over_floor": median / floor,
            }
        )
    report = {
        "command": "python benchmarks/csv_reading.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine.describe(),
        "file_bytes": size,
        "X_shape": runs[("load_csv (pyarrow)", 1)][0]["shape"],
        "X_bytes": runs[("load_csv (pyarrow)", 1)][0]["nbytes"],
        "repeats": args.repeats,
        "rows": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "csv_reading.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "csv_reading.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Reading a large CSV file: `datasets.load_csv`",
        "",
        f"`{report['command'].strip()}` on {m.get('cpu', '?')} ({m.get('cores', '?')} cores), "
        f"{report['repeats']} runs of each reader, interleaved, each in a fresh process.",
        f"File: {report['file_bytes'] / 1e6:.1f} MB of text; X: {report['X_shape'][0]:,} × "
        f"{report['X_shape'][1]} float64 = {report['X_bytes'] / 1e6:.0f} MB.",
        "",
        "| reader | pyarrow threads | median s | best s | MB/s | peak growth | ÷ X (float64) "
        "| ÷ X as float32 | time ÷ parse alone |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['reader']} | {r['threads']} | {r['median_s']:.2f} | {r['best_s']:.2f} | "
            f"{r['mb_per_s']:.0f} | {r['peak_growth_bytes'] / 1e6:.0f} MB | "
            f"{r['peak_over_X']:.2f} | {r['peak_over_X_float32']:.2f} | "
            f"{r['time_over_floor']:.2f} |"
        )
    lines += [
        "",
        "Peak growth is the process's peak resident memory less its memory just before reading "
        "(after the imports); the csv module's reader runs with pyarrow imported but unused, so "
        "its thread count does not matter. 'Parse alone' is pyarrow.csv.read_csv with its "
        "default options (more type inference than handgrad asks for), into Arrow columns only.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
