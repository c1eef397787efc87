"""The results as Markdown (``results.md``, and the generated part of docs/performance.md), and
as a plain-text table for the terminal."""

from __future__ import annotations

from .report import LATENCY_NAMES


def _x(ratio: dict | None) -> str:
    return f"{ratio['median']:.2f} / {ratio['best']:.2f}" if ratio else "–"


def _us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.0f}" if us >= 100 else f"{us:.1f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def epoch_table(results: dict) -> str:
    header = [
        "implementation",
        "threads",
        "s/epoch median",
        "best",
        "samples/s",
        "GFLOP/s",
        "× floor (median / best)",
        "× PyTorch (median / best)",
        "peak RSS MB",
        "mean loss",
    ]
    rows = []
    for r in results["epoch"]["rows"]:
        loss = f"{r['losses'][0]:.6f}" if r["losses"] else ""
        rows.append(
            [
                r["label"],
                str(r["threads"]),
                f"{r['median']:.3f}",
                f"{r['best']:.3f}",
                f"{r['samples_per_s']:,.0f}",
                f"{r['gflops']:.1f}",
                _x(r["ratio_floor"]),
                _x(r["ratio_torch"]),
                f"{r['peak_rss_mb']:.0f}",
                loss,
            ]
        )
    return table(header, rows)


def goals_table(results: dict) -> str:
    rows = []
    for g in results["goals"]:
        if g["unit"] == "MB":
            measured, target = f"{g['measured']:.0f} MB", f"≤ {g['target']:.0f} MB (data + 64)"
        else:
            measured, target = f"{g['measured']:.2f}×", f"≤ {g['target']:.2f}×"
        if g["met"]:
            status = f"met ({-g['margin']:.0%} to spare)"
        else:
            status = f"**missed** by {g['margin']:.0%}"
        rows.append([g["goal"], target, measured, status])
    return table(["goal", "target", "measured", "status"], rows)


def _verdict(guard: dict) -> str:
    if not guard["computed"]:
        return "not computed (it needs the handgrad and PyTorch SGD epochs)"
    return "passed" if guard["passed"] else "FAILED"


def guard_table(results: dict) -> str:
    rows = []
    for c in results["guard"]["checks"]:
        if c["enforced"]:
            tolerance, status = f"{c['tolerance']:.0e}", "pass" if c["passed"] else "**FAIL**"
        else:
            tolerance, status = "–", "reported only"
        rows.append(
            [
                c["name"],
                f"{c['value']:.8f}",
                f"{c['reference']:.8f}",
                f"{c['rel_diff']:.1e}",
                tolerance,
                status,
            ]
        )
    return table(["check", "value", "reference", "rel. diff", "tolerance", "status"], rows)


def latency_tables(results: dict) -> str:
    rows_all = results["latency"]["rows"]
    parts = []
    for threads in sorted({r["threads"] for r in rows_all}):
        rows = [r for r in rows_all if r["threads"] == threads]
        contenders = [c for c in LATENCY_NAMES if any(r["contender"] == c for r in rows)]
        items = sorted(
            {(r["what"], r["size"]) for r in rows}, key=lambda k: (k[0] != "predict", k[1])
        )
        index = {(r["contender"], r["what"], r["size"]): r for r in rows}
        body = []
        for what, size in items:
            line = [f"{what}, {'batch ' if what == 'step' else ''}{size}"]
            for c in contenders:
                r = index.get((c, what, size))
                line.append(f"{_us(r['median'])} ({_us(r['best'])})" if r else "–")
            hg = index.get(("handgrad", what, size))
            line.append(f"{hg['ratio_torch']['median']:.2f}" if hg and hg["ratio_torch"] else "–")
            body.append(line)
        header = [
            "µs, median (best)",
            *(LATENCY_NAMES[c] for c in contenders),
            "handgrad ÷ PyTorch",
        ]
        parts.append(f"{threads} thread(s):\n\n" + table(header, body))
    return "\n\n".join(parts)


def sweep_table(points: list[dict], by: str) -> str:
    rows = []
    for p in points:
        first = str(p["batch_size"]) if by == "batch" else "-".join(map(str, p["layers"]))
        rows.append(
            [
                first,
                _us(p["handgrad_step"]["median"]),
                _us(p["floor_step"]["median"]),
                f"{p['handgrad_per_sample'] * 1e6:.2f}",
                f"{p['floor_per_sample'] * 1e6:.2f}",
                f"{p['floor_gflops']:.0f}",
                f"{p['ratio']['median']:.2f} / {p['ratio']['best']:.2f}",
            ]
        )
    header = [
        "batch" if by == "batch" else "layers",
        "handgrad µs/step",
        "floor µs/step",
        "handgrad µs/sample",
        "floor µs/sample",
        "floor GFLOP/s",
        "× floor (median / best)",
    ]
    return table(header, rows)


def machine_lines(results: dict) -> str:
    m = results["machine"]
    flags = ", ".join(m["cpu_flags"]) or "none of avx2/fma/avx512f"
    mem = f", {m['memory_gib']:.0f} GiB" if m.get("memory_gib") else ""
    return "\n".join(
        [
            f"- CPU: {m['cpu']}, {m['cores']} logical cores{mem} ({flags}); {m['os']}",
            f"- Python {m['python']}, NumPy {m['numpy']} with {m['numpy_blas']}",
            f"- handgrad {m['handgrad']}, PyTorch {m['torch']}, scikit-learn {m['scikit-learn']}",
            f"- run on {m['date']}, {results['run_seconds'] / 60:.1f} minutes{_load(results)}",
        ]
    )


def _load(results: dict) -> str:
    load = results.get("load_average")
    if not load or None in load:
        return ""
    return f"; 1-minute load average {load[0]:.1f} at the start, {load[-1]:.1f} at the end"


def document(results: dict, image_prefix: str = "") -> str:
    """Everything measured, as Markdown; ``image_prefix`` is prepended to the charts' names."""
    spec, opts, guard, mem = (
        results["spec"],
        results["options"],
        results["guard"],
        results["memory"],
    )
    gflop = spec["flops_per_sample"] * spec["n_samples"] / 1e9
    layers = "-".join(map(str, spec["layers"]))
    out = [
        "### Machine",
        machine_lines(results),
        "",
        "### Workload",
        f"{spec['n_samples']:,} rows of {spec['data_name']}, MLP {layers} with ReLU and softmax "
        f"cross-entropy, batch {spec['batch_size']}, one epoch; SGD lr={spec['sgd_lr']}, Adam "
        f"lr={spec['adam_lr']}. {spec['flops_per_sample'] / 1e6:.2f} MFLOP per sample, "
        f"{gflop:.1f} GFLOP per epoch (nominal, 6·Σ in·out); the 8 necessary GEMMs "
        f"do {spec['floor_flops_per_sample'] / spec['flops_per_sample']:.1%} of it. "
        f"{opts['repeats']} fresh processes per row, interleaved.",
        "",
    ]
    if results["goals"]:
        threads = results["goals"][0]["threads"]
        out += [f"### Goals (at {threads} thread(s), medians)", goals_table(results), ""]
    if results["epoch"]["rows"]:
        out += [
            "### One epoch",
            epoch_table(results),
            "",
            f"![one epoch]({image_prefix}epoch.png)",
            "",
            "### Correctness guard",
            f"Guard {_verdict(guard)}. "
            + "handgrad bit-identical across processes: "
            + ", ".join(
                f"{k}: {'yes' if v else 'no'}"
                for k, v in guard["handgrad_bit_identical_across_processes"].items()
            )
            + ".",
            "",
            guard_table(results),
            "",
        ]
    if mem:
        out += [
            "### Memory",
            f"handgrad training, worst of {mem['processes']} processes: peak resident "
            f"{mem['peak_rss'] / 2**20:.0f} MB, of which {mem['rss_before_data'] / 2**20:.0f} MB "
            f"before the data were loaded (Python, NumPy, handgrad) and "
            f"{mem['data_bytes'] / 2**20:.0f} MB of data; training itself added "
            f"{mem['overhead'] / 2**20:.1f} MB (allowance {mem['allowance'] / 2**20:.0f} MB).",
            "",
        ]
    if results["latency"]["rows"]:
        out += [
            "### Latency",
            "predict: `model.predict(x)` (PyTorch: `model(x)` under `no_grad`, x already a tensor; "
            "scikit-learn: `predict_proba`; floor: the forward GEMMs). step: one SGD step — "
            "handgrad through its step API (`loss(model(x), y)`, `model.backward_params(...)`, "
            "`optimizer.step()`) and through `fit` on that one batch; PyTorch `zero_grad`, "
            "forward, loss, `backward`, `step`; scikit-learn `partial_fit`; floor: the step's "
            "GEMMs.",
            "",
            latency_tables(results),
            "",
            f"![latency]({image_prefix}latency.png)",
            "",
        ]
    sweep = results["sweep"]
    if sweep["batch"] or sweep["width"]:
        out += ["### How cost grows", ""]
        if sweep["batch"]:
            out += [
                "By batch size (reference network):",
                "",
                sweep_table(sweep["batch"], "batch"),
                "",
            ]
        if sweep["width"]:
            out += ["By hidden width (batch 128):", "", sweep_table(sweep["width"], "width"), ""]
        out += [f"![sweep]({image_prefix}sweep.png)", ""]
    return "\n".join(out)


def terminal(results: dict) -> str:
    """The main tables for the terminal (Markdown reads well enough as plain text)."""
    parts = []
    if results["epoch"]["rows"]:
        parts += ["One epoch", epoch_table(results)]
        g = results["guard"]
        parts += [f"Correctness guard: {_verdict(g)}", guard_table(results)]
    if results["latency"]["rows"]:
        parts += ["Latency", latency_tables(results)]
    for by in ("batch", "width"):
        if results["sweep"][by]:
            parts += [f"Sweep by {by}", sweep_table(results["sweep"][by], by)]
    if results["goals"]:
        parts += ["Goals", goals_table(results)]
    return "\n\n".join(parts)
