"""Turns raw measurements into the results: tables, ratios, the correctness guard and the goals.

Conventions, the same in every table:

* **median** and **best** are over the fresh processes of a row (one epoch each); for latency,
  the median over processes of each process's median call, and the fastest call seen.
* **× floor** is a time divided by the GEMM floor's at the same thread count and dtype, median
  by median and best by best; **× PyTorch** likewise against PyTorch's manual loop with the same
  update rule.
* **GFLOP/s** is nominal: 6·Σ(in·out) FLOP per sample (see ``workload.flops_per_sample``) over
  the time, for every row, the floor included (which really does 71.5 % of that work).
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from .workload import Spec, floor_flops_per_sample, flops_per_sample

LOSS_TOLERANCE = 1e-4  # handgrad's and PyTorch's mean epoch loss, float32, SGD
INITIAL_LOSS_TOLERANCE = 1e-6
MEMORY_ALLOWANCE = 64 * 2**20

NAMES = {
    "handgrad": "handgrad fit",
    "handgrad-fit": "handgrad fit (one batch)",
    "torch": "PyTorch, manual loop",
    "torch-dataloader": "PyTorch, DataLoader",
    "sklearn": "scikit-learn MLPClassifier",
    "floor": "GEMM floor",
}
LATENCY_NAMES = {**NAMES, "handgrad": "handgrad", "torch": "PyTorch", "sklearn": "scikit-learn"}
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam"}


def _ratio(a: dict | None, b: dict | None) -> dict | None:
    if not a or not b:
        return None
    return {"median": a["median"] / b["median"], "best": a["best"] / b["best"]}


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


# Epochs ------------------------------------------------------------------------------------------


def epoch_rows(raw: list[dict], spec: Spec) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for m in raw:
        args = m["args"]
        key = (m["contender"], args.get("optimizer"), args["dtype"], m["threads"])
        groups[key].append(m["result"])
    n = spec.n_samples
    flops = flops_per_sample(spec.layers) * n
    rows = []
    for (contender, optimizer, dtype, threads), results in groups.items():
        times = [r["seconds"] for r in results]
        median, best = statistics.median(times), min(times)
        label = NAMES[contender] + (f", {OPTIMIZERS[optimizer]}" if optimizer else "")
        rows.append(
            {
                "contender": contender,
                "optimizer": optimizer,
                "dtype": dtype,
                "threads": threads,
                "label": label + ("" if dtype == "float32" else f", {dtype}"),
                "seconds": times,
                "median": median,
                "best": best,
                "samples_per_s": n / median,
                "gflops": flops / median / 1e9,
                "peak_rss_mb": statistics.median(r["peak_rss"] for r in results) / 2**20,
                "losses": [r["loss"] for r in results if "loss" in r],
                "initial_losses": [r["initial_loss"] for r in results if "initial_loss" in r],
                "blas_threads": sorted({t for r in results for t in (r.get("blas_threads") or [])}),
                "memory": [
                    {
                        "peak": r["peak_rss"],
                        "before_data": r["rss_before_data"],
                        "data": r["data_bytes"],
                    }
                    for r in results
                    if "rss_before_data" in r
                ],
            }
        )
    index = {(r["contender"], r["optimizer"], r["dtype"], r["threads"]): r for r in rows}
    for row in rows:
        floor = index.get(("floor", None, row["dtype"], row["threads"]))
        torch = index.get(("torch", row["optimizer"] or "sgd", row["dtype"], row["threads"]))
        row["ratio_floor"] = _ratio(row, floor)
        row["ratio_torch"] = _ratio(row, torch)
    order = list(NAMES)
    rank = {None: 0, "sgd": 1, "adam": 2}  # the floor first: it is what the others are held to
    rows.sort(
        key=lambda r: (
            r["dtype"] != "float32",
            r["threads"],
            rank[r["optimizer"]],
            order.index(r["contender"]),
        )
    )
    return rows


def _find(rows, contender, optimizer, dtype, threads) -> dict | None:
    for r in rows:
        if (r["contender"], r["optimizer"], r["dtype"], r["threads"]) == (
            contender,
            optimizer,
            dtype,
            threads,
        ):
            return r
    return None


def guard(rows: list[dict], threads: tuple[int, ...]) -> dict:
    """Same start, same batches, same result: the checks that the contenders trained alike.

    Enforced: handgrad's and PyTorch's mean epoch loss agree (SGD, float32, within
    ``LOSS_TOLERANCE``), and every contender's loss at the initial weights equals handgrad's (so
    each really started from the shared weights). Reported: the same for Adam and scikit-learn,
    and whether handgrad gave bit-identical losses in every process.
    """
    checks = []

    def check(name, value, reference, tolerance, enforced):
        rel = rel_diff(value, reference)
        checks.append(
            {
                "name": name,
                "value": value,
                "reference": reference,
                "rel_diff": rel,
                "tolerance": tolerance,
                "passed": bool(rel <= tolerance),
                "enforced": enforced,
            }
        )

    for t in threads:
        for optimizer in ("sgd", "adam"):
            hg = _find(rows, "handgrad", optimizer, "float32", t)
            for other in ("torch", "torch-dataloader", "sklearn"):
                ref = _find(rows, other, optimizer, "float32", t)
                if hg and ref and hg["losses"] and ref["losses"]:
                    check(
                        f"mean epoch loss, {OPTIMIZERS[optimizer]}, {t} thread(s): handgrad vs "
                        f"{NAMES[other]}",
                        hg["losses"][0],
                        ref["losses"][0],
                        LOSS_TOLERANCE,
                        optimizer == "sgd" and other == "torch",
                    )
        hg = _find(rows, "handgrad", "sgd", "float32", t)
        if hg and hg["initial_losses"]:
            for row in rows:
                if row["threads"] == t and row["initial_losses"]:
                    check(
                        f"loss at the initial weights, {t} thread(s): {row['label']} vs handgrad",
                        row["initial_losses"][0],
                        hg["initial_losses"][0],
                        INITIAL_LOSS_TOLERANCE,
                        True,
                    )
    deterministic = {
        f"{r['label']}, {r['threads']} thread(s)": len(set(r["losses"])) == 1
        for r in rows
        if r["contender"] == "handgrad" and r["losses"]
    }
    computed = any(c["enforced"] and "epoch loss" in c["name"] for c in checks)
    return {
        "computed": computed,
        "passed": computed and all(c["passed"] for c in checks if c["enforced"]),
        "checks": checks,
        "handgrad_bit_identical_across_processes": deterministic,
    }


def memory(rows: list[dict]) -> dict | None:
    """Peak resident memory of handgrad's float32 training processes against the dataset.

    ``overhead = peak − (resident before the data were loaded) − dataset bytes``; the goal is
    at most 64 MB. The worst process counts.
    """
    runs = [
        m
        for r in rows
        if r["contender"] == "handgrad" and r["dtype"] == "float32"
        for m in r["memory"]
    ]
    if not runs:
        return None
    worst = max(runs, key=lambda m: m["peak"] - m["before_data"] - m["data"])
    overhead = worst["peak"] - worst["before_data"] - worst["data"]
    return {
        "peak_rss": worst["peak"],
        "rss_before_data": worst["before_data"],
        "data_bytes": worst["data"],
        "overhead": overhead,
        "allowance": MEMORY_ALLOWANCE,
        "passed": overhead <= MEMORY_ALLOWANCE,
        "processes": len(runs),
    }


# Latency and sweep -------------------------------------------------------------------------------


def latency_rows(raw: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for m in raw:
        for row in m["result"]["rows"]:
            contender = row.get("contender", m["contender"])
            groups[(contender, row["what"], row["size"], m["threads"])].append(row)
    rows = []
    for (contender, what, size, threads), found in groups.items():
        rows.append(
            {
                "contender": contender,
                "what": what,
                "size": size,
                "threads": threads,
                "median": statistics.median(f["median"] for f in found),
                "best": min(f["best"] for f in found),
                "calls": sum(f["n"] for f in found),
                "processes": len(found),
            }
        )
    index = {(r["contender"], r["what"], r["size"], r["threads"]): r for r in rows}
    for r in rows:
        r["ratio_torch"] = _ratio(r, index.get(("torch", r["what"], r["size"], r["threads"])))
        r["ratio_floor"] = _ratio(r, index.get(("floor", r["what"], r["size"], r["threads"])))
    return rows


def sweep_rows(raw: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"batch": [], "width": []}
    for m in raw:
        r = m["result"]
        hg, floor = r["handgrad"], r["floor"]
        b = r["batch_size"]
        out[m["tag"]].append(
            {
                "layers": r["layers"],
                "batch_size": b,
                "steps": r["steps"],
                "handgrad_step": hg,
                "floor_step": floor,
                "handgrad_per_sample": hg["median"] / b,
                "floor_per_sample": floor["median"] / b,
                "ratio": {
                    "median": hg["median"] / floor["median"],
                    "best": hg["best"] / floor["best"],
                },
                "floor_gflops": floor_flops_per_sample(r["layers"]) * b / floor["median"] / 1e9,
            }
        )
    out["batch"].sort(key=lambda p: p["batch_size"])
    out["width"].sort(key=lambda p: p["layers"][1])
    return out


# Goals -------------------------------------------------------------------------------------------


def goals(results: dict) -> list[dict]:
    """The performance goals, judged at the smallest thread count measured, on medians."""
    threads = min(results["options"]["threads"])
    rows, lat = results["epoch"]["rows"], results["latency"]["rows"]
    out = []

    def goal(name, measured, target, unit="×"):
        if measured is None:
            return
        out.append(
            {
                "goal": name,
                "target": target,
                "measured": measured,
                "unit": unit,
                "met": bool(measured <= target),
                "margin": measured / target - 1,
                "threads": threads,
            }
        )

    def epoch_ratio(optimizer, dtype, which):
        row = _find(rows, "handgrad", optimizer, dtype, threads)
        ratio = row and row[which]
        return ratio["median"] if ratio else None

    def latency_ratio(what, size):
        for r in lat:
            if (r["contender"], r["what"], r["size"], r["threads"]) == (
                "handgrad",
                what,
                size,
                threads,
            ):
                return r["ratio_torch"]["median"] if r["ratio_torch"] else None
        return None

    goal("SGD epoch vs GEMM floor", epoch_ratio("sgd", "float32", "ratio_floor"), 1.10)
    goal("SGD epoch vs PyTorch", epoch_ratio("sgd", "float32", "ratio_torch"), 0.75)
    goal("Adam epoch vs GEMM floor", epoch_ratio("adam", "float32", "ratio_floor"), 1.30)
    goal("Adam epoch vs PyTorch's Adam", epoch_ratio("adam", "float32", "ratio_torch"), 0.70)
    goal(
        "float64 SGD epoch vs float64 GEMM floor",
        epoch_ratio("sgd", "float64", "ratio_floor"),
        1.10,
    )
    goal("train step at batch 1 vs PyTorch", latency_ratio("step", 1), 0.50)
    goal("predict of one sample vs PyTorch", latency_ratio("predict", 1), 0.70)
    mem = results["memory"]
    if mem:
        goal(
            "peak memory of training, above the process before loading data",
            (mem["peak_rss"] - mem["rss_before_data"]) / 2**20,
            (mem["data_bytes"] + mem["allowance"]) / 2**20,
            unit="MB",
        )
    return out


def rejudge(results: dict) -> dict:
    """A saved run's guard, memory and goals worked out again from its measured rows (for
    ``run.py --render``, after the way they are judged or presented has changed)."""
    rows = results["epoch"]["rows"]
    results["guard"] = guard(rows, tuple(results["options"]["threads"]))
    results["memory"] = memory(rows)
    results["goals"] = goals(results)
    return results


def build(raw: dict, spec: Spec, options: dict, machine: dict) -> dict:
    rows = epoch_rows(raw["epoch"], spec)
    results = {
        "machine": machine,
        "spec": {
            **{k: v for k, v in vars(spec).items() if k != "extra"},
            **spec.extra,
            "flops_per_sample": flops_per_sample(spec.layers),
            "floor_flops_per_sample": floor_flops_per_sample(spec.layers),
            "data_bytes": spec.data_bytes,
        },
        "options": options,
        "epoch": {"rows": rows},
        "guard": guard(rows, tuple(options["threads"])),
        "memory": memory(rows),
        "latency": {"rows": latency_rows(raw["latency"])},
        "sweep": sweep_rows(raw["sweep"]),
        "run_seconds": raw.get("seconds"),
        "load_average": raw.get("load"),
    }
    results["goals"] = goals(results)
    return results
