"""The charts, drawn with matplotlib's Agg backend (no display needed): ``epoch.png``,
``latency.png`` and ``sweep.png``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .report import LATENCY_NAMES

COLORS = {
    "handgrad": "#1f77b4",
    "handgrad-fit": "#aec7e8",
    "torch": "#d62728",
    "torch-dataloader": "#ff9896",
    "sklearn": "#2ca02c",
    "floor": "#7f7f7f",
}


def epoch_chart(results: dict, path: Path) -> None:
    """Horizontal bars: median seconds per epoch, a tick at the best, one panel per thread count."""
    rows = results["epoch"]["rows"]
    threads = sorted({r["threads"] for r in rows})
    height = 0.35 * max(len([r for r in rows if r["threads"] == t]) for t in threads) + 1.2
    fig, axes = plt.subplots(1, len(threads), figsize=(6.5 * len(threads), height), squeeze=False)
    for ax, t in zip(axes[0], threads):
        sub = [r for r in rows if r["threads"] == t][::-1]
        y = range(len(sub))
        ax.barh(y, [r["median"] for r in sub], color=[COLORS[r["contender"]] for r in sub])
        ax.plot([r["best"] for r in sub], y, "k|", markersize=12, label="best")
        for r, yi in zip(sub, y):
            ratio = r["ratio_floor"]
            if ratio:
                ax.text(r["median"], yi, f" {ratio['median']:.2f}× floor", va="center", fontsize=8)
        ax.set_yticks(list(y), [r["label"] for r in sub], fontsize=8)
        ax.set_xlabel("seconds per epoch (bar: median, tick: best)")
        ax.set_title(f"{t} thread(s)")
        ax.set_xlim(0, max(r["median"] for r in sub) * 1.35)
    fig.suptitle(
        f"One epoch, MLP {'-'.join(map(str, results['spec']['layers']))}, "
        f"{results['spec']['n_samples']:,} rows, batch {results['spec']['batch_size']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_chart(results: dict, path: Path) -> None:
    """Grouped bars on a log scale: median µs per call by item and contender, at the first
    thread count."""
    rows = results["latency"]["rows"]
    t = min(r["threads"] for r in rows)
    rows = [r for r in rows if r["threads"] == t]
    items = sorted({(r["what"], r["size"]) for r in rows}, key=lambda k: (k[0] != "predict", k[1]))
    contenders = [c for c in LATENCY_NAMES if any(r["contender"] == c for r in rows)]
    index = {(r["contender"], r["what"], r["size"]): r for r in rows}
    width = 0.8 / len(contenders)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for k, c in enumerate(contenders):
        xs, ys = [], []
        for i, (what, size) in enumerate(items):
            r = index.get((c, what, size))
            if r:
                xs.append(i + (k - (len(contenders) - 1) / 2) * width)
                ys.append(r["median"] * 1e6)
        ax.bar(xs, ys, width, label=LATENCY_NAMES[c], color=COLORS[c])
    labels = [f"{w}\n{'batch ' if w == 'step' else ''}{s}" for w, s in items]
    ax.set_xticks(range(len(items)), labels)
    ax.set_yscale("log")
    ax.set_ylabel("µs per call (median)")
    ax.set_title(f"Latency, {t} thread(s)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_chart(results: dict, path: Path) -> None:
    """Per-sample step time of handgrad and of the GEMM floor, by batch size and by width, and
    the ratio between them."""
    sweep = results["sweep"]
    panels = [by for by in ("batch", "width") if sweep[by]]
    fig, axes = plt.subplots(2, len(panels), figsize=(6 * len(panels), 7), squeeze=False)
    for col, by in enumerate(panels):
        points = sweep[by]
        xs = [p["batch_size"] if by == "batch" else p["layers"][1] for p in points]
        top, bottom = axes[0][col], axes[1][col]
        top.plot(xs, [p["handgrad_per_sample"] * 1e6 for p in points], "o-", label="handgrad fit")
        top.plot(
            xs,
            [p["floor_per_sample"] * 1e6 for p in points],
            "s--",
            color="gray",
            label="GEMM floor",
        )
        top.set_xscale("log", base=2)
        top.set_yscale("log")
        top.set_ylabel("µs per sample (median)")
        top.legend(fontsize=8)
        bottom.plot(xs, [p["ratio"]["median"] for p in points], "o-", label="median")
        bottom.plot(xs, [p["ratio"]["best"] for p in points], "x:", label="best")
        bottom.axhline(1.0, color="gray", lw=0.8)
        bottom.set_xscale("log", base=2)
        bottom.set_ylabel("handgrad ÷ floor")
        bottom.legend(fontsize=8)
        if by == "batch":
            top.set_title("By batch size (784-256-128-10)")
            bottom.set_xlabel("batch size")
        else:
            top.set_title("By hidden width w (784-w-w/2-10, batch 128)")
            bottom.set_xlabel("w")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_all(results: dict, out_dir: Path) -> list[Path]:
    drawn = []
    for name, draw, present in (
        ("epoch.png", epoch_chart, results["epoch"]["rows"]),
        ("latency.png", latency_chart, results["latency"]["rows"]),
        ("sweep.png", sweep_chart, results["sweep"]["batch"] or results["sweep"]["width"]),
    ):
        if present:
            draw(results, out_dir / name)
            drawn.append(out_dir / name)
    return drawn
