"""handgrad's training epoch at two revisions, interleaved: did a change make it slower?

``python benchmarks/versions.py --base REV [--head REV] [--optimizers sgd,adam] [--repeats 7]``

The source tree of each revision (``git archive``; ``--head`` defaults to the working tree) is put
on ``PYTHONPATH`` of a fresh child process, which runs the benchmark's handgrad epoch (the MLP
784-256-128-10 on the prepared rows, ``benchmarks/workload.py``) at one BLAS thread unless
``--threads`` says otherwise. The two revisions take turns — A B, then B A — round after round,
so that a drift of the shared machine's speed falls on both; each round gives a ratio head/base.
Printed per optimizer: the median and best seconds of each revision, and the median and range of
the ratios of the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import child_env  # noqa: E402
from benchmarks.machine import describe  # noqa: E402
from benchmarks.workload import Spec, prepare  # noqa: E402


def source_tree(rev: str | None, folder: Path) -> Path:
    """The ``src`` folder of revision ``rev`` unpacked under ``folder`` (the working tree's own
    ``src`` for None)."""
    if rev is None:
        return ROOT / "src"
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "src"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    target = folder / rev.replace("/", "_")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def epoch(src: Path, work: Path, optimizer: str, dtype: str, threads: int, out: Path) -> float:
    job = {
        "kind": "epoch",
        "contender": "handgrad",
        "threads": threads,
        "args": {"optimizer": optimizer, "dtype": dtype},
        "work": str(work),
        "out": str(out),
    }
    job_path = out.with_suffix(".job.json")
    job_path.write_text(json.dumps(job))
    env = child_env(threads)
    env["PYTHONPATH"] = f"{src}:{env['PYTHONPATH']}"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.child", str(job_path)], cwd=ROOT, env=env, check=True
    )
    return json.loads(out.read_text())["seconds"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the revision to compare against (e.g. HEAD~1)")
    p.add_argument("--head", default=None, help="the revision measured (default: working tree)")
    p.add_argument("--optimizers", default="sgd,adam")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7, help="rounds (each: base and head once)")
    p.add_argument("--n-samples", type=int, default=60000)
    p.add_argument("--data", default="auto", choices=("auto", "fashion-mnist", "synthetic"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="handgrad-versions-") as tmp:
        folder = Path(tmp)
        sides = {
            "base": source_tree(args.base, folder),
            "head": source_tree(args.head, folder),
        }
        spec = prepare(Spec(data=args.data, n_samples=args.n_samples), folder / "work")
        print(
            f"{describe()['cpu']}; {spec.n_samples} rows of {spec.extra['data_name']}, "
            f"{args.dtype}, {args.threads} thread(s); base {args.base}, "
            f"head {args.head or 'working tree'}",
            flush=True,
        )
        for optimizer in args.optimizers.split(","):
            times: dict[str, list[float]] = {"base": [], "head": []}
            ratios = []
            for r in range(args.repeats):
                order = ("base", "head") if r % 2 == 0 else ("head", "base")
                seconds = {}
                for side in order:
                    out = folder / f"{optimizer}-{side}-{r}.json"
                    seconds[side] = epoch(
                        sides[side], folder / "work", optimizer, args.dtype, args.threads, out
                    )
                    times[side].append(seconds[side])
                ratios.append(seconds["head"] / seconds["base"])
            print(
                f"{optimizer}: base median {statistics.median(times['base']):.3f} s "
                f"(best {min(times['base']):.3f}), head median "
                f"{statistics.median(times['head']):.3f} s (best {min(times['head']):.3f}); "
                f"head/base median {statistics.median(ratios):.3f} "
                f"(range {min(ratios):.3f}-{max(ratios):.3f}, best/best "
                f"{min(times['head']) / min(times['base']):.3f}), {args.repeats} rounds",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
