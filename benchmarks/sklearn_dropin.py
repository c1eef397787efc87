"""handgrad.sklearn in place of sklearn.neural_network: the same code, both scores and times.

A scikit-learn user's script, run twice with only the import switched: on each of scikit-learn's
bundled data sets (digits, breast cancer, iris, wine; diabetes for regression), for each solver
(``lbfgs``, ``sgd``, ``adam``), the pipeline ``StandardScaler() → MLP(solver=..., random_state=k)``
with scikit-learn's defaults otherwise (one hidden layer of 100, ``max_iter=200``), scored on the
test part of every fold of a repeated K-fold split (stratified for the classifiers). Diabetes
standardises its target too (``TransformedTargetRegressor``), as a user would for an MLP.

Each fold is fitted by both libraries with the same ``random_state``, one after the other, the
order alternating from fold to fold so that a drift of the shared machine's speed falls on both;
BLAS runs on one thread (threadpoolctl); each fit is timed ``--repeats`` times and the best kept.
Reported per data set and solver:

* the mean test score of each library (accuracy, or R², in points: ×100) and their difference,
  with the standard error of the paired differences (the libraries start from different random
  weights, so one fold's difference is mostly the luck of the draw);
* the median fit time of each, the median over the folds of the ratio handgrad / scikit-learn,
  and the same ratio per iteration (``fit time / n_iter_``), which discounts runs that stopped at
  another epoch;
* how many fits ran out of ``max_iter`` (a ``ConvergenceWarning``) in each library.

The goal: handgrad within 0.5 points of scikit-learn's score, and no slower (ratio ≤ 1).
Results go to ``benchmarks/results/sklearn_dropin.json`` and ``sklearn_dropin.md``, with the CPU
and the machine's load average.

Run:  python benchmarks/sklearn_dropin.py [--only digits iris ...] [--solvers lbfgs,adam]
      [--repeats 2] [--quick]
(``--quick`` runs one repeat of the folds and one timing each: for checking the script, not for
the README's figures.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn import neural_network as sk_nn
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from benchmarks.machine import describe  # noqa: E402
from handgrad import sklearn as hg_sklearn  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SOLVERS = ("lbfgs", "sgd", "adam")
GOAL_POINTS = 0.5


@dataclass(frozen=True)
class DataSet:
    name: str
    loader: str
    task: str  # "classification" or "regression"
    repeats: int  # of the 5-fold split: more for the small sets, whose scores are noisier


DATASETS = (
    DataSet("digits", "load_digits", "classification", 2),
    DataSet("breast_cancer", "load_breast_cancer", "classification", 4),
    DataSet("iris", "load_iris", "classification", 10),
    DataSet("wine", "load_wine", "classification", 10),
    DataSet("diabetes", "load_diabetes", "regression", 10),
)


def estimator(library, data: DataSet, solver: str, seed: int):
    """The user's pipeline, with ``library``'s MLP (``sklearn.neural_network`` or
    ``handgrad.sklearn``: the only difference)."""
    if data.task == "classification":
        mlp = library.MLPClassifier(solver=solver, random_state=seed)
        return make_pipeline(StandardScaler(), mlp)
    mlp = library.MLPRegressor(solver=solver, random_state=seed)
    return TransformedTargetRegressor(
        make_pipeline(StandardScaler(), mlp), transformer=StandardScaler()
    )


def folds(data: DataSet, X, y, repeats: int):
    split = RepeatedStratifiedKFold if data.task == "classification" else RepeatedKFold
    return list(split(n_splits=5, n_repeats=repeats, random_state=0).split(X, y))


def fit_once(est, X, y, timings: int):
    """The best of ``timings`` fits of clones of ``est``: (fitted estimator, seconds, warned)."""
    best, fitted, warned = float("inf"), None, False
    for _ in range(timings):
        model = clone(est)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        if seconds < best:
            best, fitted = seconds, model
    return fitted, best, warned


def mlp_of(fitted):
    pipe = fitted.regressor_ if isinstance(fitted, TransformedTargetRegressor) else fitted
    return pipe[-1]


def run_case(data: DataSet, solver: str, repeats: int, timings: int) -> dict:
    X, y = getattr(datasets, data.loader)(return_X_y=True)
    libraries = {"handgrad": hg_sklearn, "sklearn": sk_nn}
    out = {name: {"scores": [], "seconds": [], "iterations": [], "warned": 0} for name in libraries}
    for k, (train, test) in enumerate(folds(data, X, y, repeats)):
        order = list(libraries) if k % 2 == 0 else list(reversed(libraries))
        for name in order:
            est = estimator(libraries[name], data, solver, seed=k)
            fitted, seconds, warned = fit_once(est, X[train], y[train], timings)
            record = out[name]
            record["scores"].append(100 * fitted.score(X[test], y[test]))
            record["seconds"].append(seconds)
            record["iterations"].append(int(mlp_of(fitted).n_iter_))
            record["warned"] += warned
    ours, theirs = out["handgrad"], out["sklearn"]
    diffs = np.subtract(ours["scores"], theirs["scores"])
    ratios = np.divide(ours["seconds"], theirs["seconds"])
    per_iteration = ratios * np.divide(theirs["iterations"], ours["iterations"])
    summary = {
        "data": data.name,
        "solver": solver,
        "folds": len(diffs),
        "score": {name: statistics.fmean(r["scores"]) for name, r in out.items()},
        "points": float(diffs.mean()),
        "points_se": float(diffs.std(ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else 0.0,
        "median_seconds": {name: statistics.median(r["seconds"]) for name, r in out.items()},
        "time_ratio": float(np.median(ratios)),
        "time_ratio_per_iteration": float(np.median(per_iteration)),
        "mean_iterations": {name: statistics.fmean(r["iterations"]) for name, r in out.items()},
        "ran_out_of_iterations": {name: r["warned"] for name, r in out.items()},
        "folds_detail": out,
    }
    summary["goal_met"] = bool(summary["points"] >= -GOAL_POINTS and summary["time_ratio"] <= 1)
    return summary


def markdown(results: list[dict], machine: dict, command: str, load: tuple) -> str:
    lines = [
        "| data set | solver | folds | handgrad | scikit-learn | Δ points (± s.e.) "
        "| fit, handgrad | fit, scikit-learn | time ratio | per iteration | goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        s, t = r["score"], r["median_seconds"]
        lines.append(
            f"| {r['data']} | {r['solver']} | {r['folds']} | {s['handgrad']:.2f} "
            f"| {s['sklearn']:.2f} | {r['points']:+.2f} (± {r['points_se']:.2f}) "
            f"| {1000 * t['handgrad']:.0f} ms | {1000 * t['sklearn']:.0f} ms "
            f"| {r['time_ratio']:.2f} | {r['time_ratio_per_iteration']:.2f} "
            f"| {'met' if r['goal_met'] else 'missed'} |"
        )
    lines += [
        "",
        f"Scores: mean test accuracy (diabetes: R²) × 100 over the folds; times: median of the "
        f"best-of-N fits; ratios: median over the folds of handgrad / scikit-learn. "
        f"`{command}` on {machine['cpu']}, {machine['cores']} cores, BLAS at 1 thread, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start; "
        f"scikit-learn {machine['scikit-learn']}, NumPy {machine['numpy']}, {machine['date']}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=[d.name for d in DATASETS])
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--repeats", type=int, default=2, help="timed fits per fold (best kept)")
    parser.add_argument("--quick", action="store_true", help="one repeat of the folds, one timing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    solvers = [s for s in args.solvers.split(",") if s]
    for s in solvers:
        if s not in SOLVERS:
            parser.error(f"--solvers takes {', '.join(SOLVERS)}, got {s!r}")
    chosen = [d for d in DATASETS if not args.only or d.name in args.only]
    load = os.getloadavg()
    results = []
    with threadpool_limits(1):
        for data in chosen:
            for solver in solvers:
                repeats = 1 if args.quick else data.repeats
                r = run_case(data, solver, repeats, 1 if args.quick else args.repeats)
                results.append(r)
                print(
                    f"{data.name:13} {solver:5}  handgrad {r['score']['handgrad']:6.2f}  "
                    f"scikit-learn {r['score']['sklearn']:6.2f}  Δ {r['points']:+.2f} "
                    f"(± {r['points_se']:.2f})  time ratio {r['time_ratio']:.2f} "
                    f"(per iteration {r['time_ratio_per_iteration']:.2f})",
                    flush=True,
                )
    machine = describe()
    command = "python benchmarks/sklearn_dropin.py " + " ".join(argv or sys.argv[1:])
    report = {"machine": machine, "command": command.strip(), "load_average": load,
              "quick": args.quick, "results": results}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    (args.out / f"sklearn_dropin{suffix}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"sklearn_dropin{suffix}.md").write_text(
        markdown(results, machine, command.strip(), load)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
