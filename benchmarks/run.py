"""Run handgrad's performance benchmarks: ``python benchmarks/run.py`` (``--help`` for options).

Writes ``results.json``, ``results.md`` and the charts into ``benchmarks/results/<cpu>/``
(``intel``, ``amd``: the figures of each kind of CPU are kept; ``--quick`` runs into
``benchmarks/results/quick/``), prints the tables, and exits with status 1 if the correctness
guard fails. ``--update-docs`` also rewrites this CPU's section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import charts, harness, machine, markdown, report
from benchmarks.workload import Spec

RESULTS = Path(__file__).resolve().parent / "results"
DOC = harness.ROOT / "docs" / "performance.md"
#: The page keeps one measured section per kind of CPU, between markers named by it
#: (``<!-- results:intel:begin -->`` … ``<!-- results:intel:end -->``): a run replaces its own
#: CPU's section, or adds one after the others, and leaves the rest as they are.
MARKER = "<!-- results:{key}:{end} -->"
ANCHOR = "<!-- results:next -->"


def cpu_key(cpu: str) -> str:
    """``"intel"``, ``"amd"``, or the CPU's name in lower-case letters and dashes."""
    for vendor in ("Intel", "AMD"):
        if vendor in cpu:
            return vendor.lower()
    return "-".join("".join(c if c.isalnum() else " " for c in cpu.lower()).split()) or "cpu"


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers separated by commas, got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _names(choices):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(v.strip() for v in text.split(",") if v.strip())
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"expected some of {', '.join(choices)} separated by commas, got {text!r}"
            )
        return names

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="handgrad against PyTorch, scikit-learn and the GEMM floor, one MLP epoch.",
    )
    p.add_argument("--quick", action="store_true", help="fewer repeats, 6,000 rows, short sweeps")
    p.add_argument(
        "--parts", type=_names(harness.PARTS), help="default: all of " + ",".join(harness.PARTS)
    )
    p.add_argument("--contenders", type=_names(harness.CONTENDERS), help="default: all")
    p.add_argument("--threads", type=_ints, help="thread counts, default 1,2")
    p.add_argument("--repeats", type=int, help="processes per epoch row (default 5, quick 2)")
    p.add_argument("--latency-repeats", type=int, help="processes per latency row (3, quick 1)")
    p.add_argument("--n-samples", type=int, help="rows of data (default 60000, quick 6000)")
    p.add_argument("--data", choices=("auto", "fashion-mnist", "synthetic"), default="auto")
    p.add_argument("--sweep-batches", type=_ints, help="default 1,2,4,…,4096")
    p.add_argument("--sweep-widths", type=_ints, help="default 64,128,…,4096")
    p.add_argument("--budget", type=float, help="seconds per latency figure and sweep point")
    p.add_argument("--out", type=Path, help="where results go (default benchmarks/results)")
    p.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: redraw the tables and charts of a saved results.json",
    )
    p.add_argument(
        "--update-docs", action="store_true", help="rewrite docs/performance.md's figures"
    )
    return p.parse_args(argv)


def options_from(args: argparse.Namespace) -> tuple[harness.Options, Path]:
    opts = harness.Options(spec=Spec(data=args.data))
    if args.quick:
        opts.repeats, opts.latency_repeats, opts.budget, opts.sweep_rounds = 2, 1, 0.15, 2
        opts.spec.n_samples = 6000
        opts.sweep_batches, opts.sweep_widths = (1, 16, 128, 1024), (64, 256, 1024)
    for name in ("parts", "contenders", "threads", "repeats", "latency_repeats", "sweep_batches",
                 "sweep_widths", "budget"):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            setattr(opts, name, value)
    if args.n_samples is not None:
        opts.spec.n_samples = args.n_samples
    opts.spec.warmup_rows = min(opts.spec.warmup_rows, opts.spec.n_samples)
    if opts.repeats < 1 or opts.latency_repeats < 1:
        raise SystemExit("--repeats and --latency-repeats must be at least 1")
    out = args.out or (
        RESULTS / "quick" if args.quick else RESULTS / cpu_key(machine.describe()["cpu"])
    )
    return opts, out


def update_doc(results: dict, doc: Path = DOC, images: str = "../benchmarks/results/") -> None:
    """Rewrite the section of ``doc`` that holds the figures of this run's kind of CPU."""
    text = doc.read_text()
    cpu = results["machine"]["cpu"]
    key = cpu_key(cpu)
    begin, end = MARKER.format(key=key, end="begin"), MARKER.format(key=key, end="end")
    body = markdown.document(results, image_prefix=images)
    section = f"{begin}\n## Figures: {cpu}\n\n{body}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{section}{tail}"
    elif ANCHOR in text:
        text = text.replace(ANCHOR, f"{section}\n\n{ANCHOR}", 1)
    else:
        raise SystemExit(f"{doc} has no {begin} … {end} section and no {ANCHOR} to add one at")
    doc.write_text(text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opts, out = options_from(args)
    if args.render:
        results = report.rejudge(json.loads(args.render.read_text()))
        out = args.out or args.render.parent
    else:
        raw = harness.run(opts)
        options = {k: v for k, v in asdict(opts).items() if k != "spec"}
        results = report.build(raw, opts.spec, options, machine.describe())
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(markdown.document(results) + "\n")
    charts.draw_all(results, out)
    print(markdown.terminal(results))
    print(f"\nwrote {out / 'results.json'}, results.md and the charts")
    if args.update_docs:
        images = "../" + str(out.resolve().relative_to(harness.ROOT)) + "/"
        update_doc(results, images=images)
        print(f"rewrote the figures of this CPU in {DOC}")
    guard = results["guard"]
    if guard["computed"] and not guard["passed"]:
        failed = [c["name"] for c in guard["checks"] if c["enforced"] and not c["passed"]]
        print("\nCORRECTNESS GUARD FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
