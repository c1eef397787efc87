"""The benchmark harness (benchmarks/): its workload, its floor, its guard, and one quick run.

The quick run trains on a few hundred synthetic rows, once per contender, and checks the JSON it
writes: that every contender is there, that each ratio is the quotient of the times it names,
and that the correctness guard was computed and passed. Nothing here asserts how fast anything
is: timing goals are the benchmark's business, not the test suite's.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.system import needs_fashion_mnist

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import report, workload  # noqa: E402
from benchmarks.contenders.gemm_floor import GemmStep  # noqa: E402

pytest.importorskip("torch", reason="the quick run needs PyTorch: pip install -e '.[dev]'")
pytest.importorskip("sklearn", reason="the quick run needs scikit-learn: pip install -e '.[dev]'")
pytest.importorskip("matplotlib", reason="the quick run draws charts: pip install -e '.[dev]'")

from benchmarks import sklearn_dropin  # noqa: E402  (it imports scikit-learn)

N_ROWS = 300


# The workload --------------------------------------------------------------------------------


def test_flops_of_the_reference_network():
    # 784·256 + 256·128 + 128·10 = 200704 + 32768 + 1280 = 234752 multiply-adds per sample
    assert workload.flops_per_sample((784, 256, 128, 10)) == 6 * 234752 == 1408512
    # less the first layer's input gradient, 2·784·256 = 401408
    assert workload.floor_flops_per_sample((784, 256, 128, 10)) == 1007104
    assert round(1007104 / 1408512, 3) == 0.715


@needs_fashion_mnist
def test_the_reference_data_are_fashion_mnist_when_installed():
    X, y = workload.load_fashion_mnist_train()
    assert X.shape == (60000, 784) and X.dtype == np.float32
    assert X.min() >= 0 and X.max() <= 1 and np.bincount(y).tolist() == [6000] * 10


def test_teacher_data_is_reproducible_and_uses_every_class():
    a = workload.teacher_data(2000, 20, 10, np.random.default_rng(5))
    b = workload.teacher_data(2000, 20, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].dtype == np.float32 and a[0].min() >= 0 and a[0].max() < 1
    assert sorted(np.unique(a[1])) == list(range(10))


def test_initial_weights_are_he_normal_and_zero_bias():
    weights = workload.initial_weights((784, 256, 10), seed=0)
    assert [W.shape for W, _ in weights] == [(784, 256), (256, 10)]
    W, b = weights[0]
    assert abs(W.std() - math.sqrt(2 / 784)) < 0.02 * math.sqrt(2 / 784)
    assert not b.any()
    np.testing.assert_array_equal(W, workload.initial_weights((784, 256, 10), seed=0)[0][0])


def test_gemm_floor_computes_the_eight_products():
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal(s) for s in ((6, 5), (5, 4), (4, 3))]
    X = rng.standard_normal((7, 6))
    gemm = GemmStep(Ws, batch_size=7, dtype=np.float64)
    gemm.step(X)
    Z1 = X @ Ws[0]
    Z2 = Z1 @ Ws[1]
    Z3 = Z2 @ Ws[2]  # the output stands in for the loss gradient
    G2 = Z3 @ Ws[2].T
    G1 = G2 @ Ws[1].T
    np.testing.assert_allclose(gemm.dW[2], Z2.T @ Z3)
    np.testing.assert_allclose(gemm.dW[1], Z1.T @ G2)
    np.testing.assert_allclose(gemm.dW[0], X.T @ G1)


# The guard -----------------------------------------------------------------------------------


def _row(contender, optimizer, loss, initial=2.0):
    return {
        "contender": contender,
        "optimizer": optimizer,
        "dtype": "float32",
        "threads": 1,
        "label": contender,
        "losses": [loss],
        "initial_losses": [initial],
    }


def test_guard_fails_when_handgrad_and_torch_disagree():
    close = [_row("handgrad", "sgd", 0.5), _row("torch", "sgd", 0.5 * (1 + 5e-5))]
    assert report.guard(close, (1,))["passed"]
    apart = [_row("handgrad", "sgd", 0.5), _row("torch", "sgd", 0.5 * (1 + 3e-4))]
    result = report.guard(apart, (1,))
    assert result["computed"] and not result["passed"]
    (check,) = [c for c in result["checks"] if "epoch loss" in c["name"]]
    assert check["rel_diff"] == pytest.approx(3e-4 / (1 + 3e-4))


def test_guard_fails_when_a_contender_started_elsewhere():
    rows = [_row("handgrad", "sgd", 0.5), _row("torch", "sgd", 0.5, initial=2.01)]
    result = report.guard(rows, (1,))
    assert not result["passed"]
    failed = [c["name"] for c in result["checks"] if not c["passed"]]
    assert failed == ["loss at the initial weights, 1 thread(s): torch vs handgrad"]


def test_guard_is_not_computed_without_both_contenders():
    result = report.guard([_row("handgrad", "sgd", 0.5)], (1,))
    assert not result["computed"] and not result["passed"]


# One quick run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "run.py"),
        "--quick",
        "--data=synthetic",
        f"--n-samples={N_ROWS}",
        "--threads=1",
        "--repeats=1",
        "--sweep-batches=1,64",
        "--sweep-widths=64",
        "--budget=0.02",
        f"--out={out}",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text()), proc.stdout


def test_every_contender_ran_an_epoch(run):
    _, results, _ = run
    found = {(r["contender"], r["optimizer"], r["dtype"]) for r in results["epoch"]["rows"]}
    expected = {
        (c, o, "float32")
        for c in ("handgrad", "torch", "torch-dataloader", "sklearn")
        for o in ("sgd", "adam")
    }
    expected |= {
        ("floor", None, "float32"),
        ("handgrad", "sgd", "float64"),
        ("floor", None, "float64"),
    }
    assert found == expected
    for r in results["epoch"]["rows"]:
        assert len(r["seconds"]) == 1 and r["seconds"][0] > 0
        assert r["blas_threads"] in ([1], [])


def test_epoch_ratios_are_the_quotients_of_the_times(run):
    _, results, _ = run
    rows = {(r["contender"], r["optimizer"], r["dtype"]): r for r in results["epoch"]["rows"]}
    n = results["spec"]["n_samples"]
    assert n == N_ROWS
    for (_, optimizer, dtype), r in rows.items():
        floor = rows[("floor", None, dtype)]
        assert r["ratio_floor"]["median"] == pytest.approx(r["median"] / floor["median"], rel=1e-12)
        assert r["ratio_floor"]["best"] == pytest.approx(r["best"] / floor["best"], rel=1e-12)
        torch = rows.get(("torch", optimizer or "sgd", dtype))
        if torch is None:
            assert r["ratio_torch"] is None
        else:
            assert r["ratio_torch"]["median"] == pytest.approx(r["median"] / torch["median"])
        assert r["samples_per_s"] == pytest.approx(n / r["median"])
        assert r["gflops"] == pytest.approx(1408512 * n / r["median"] / 1e9)
    assert rows[("torch", "adam", "float32")]["ratio_torch"]["median"] == 1.0


def test_correctness_guard_was_computed_and_passed(run):
    _, results, stdout = run
    guard = results["guard"]
    assert guard["computed"] and guard["passed"]
    (sgd,) = [
        c
        for c in guard["checks"]
        if c["name"].startswith("mean epoch loss, SGD") and c["name"].endswith("manual loop")
    ]
    assert sgd["enforced"] and sgd["tolerance"] == 1e-4
    assert sgd["rel_diff"] == pytest.approx(abs(sgd["value"] - sgd["reference"]) / sgd["reference"])
    assert sgd["rel_diff"] <= 1e-4
    starts = [c for c in guard["checks"] if c["name"].startswith("loss at the initial weights")]
    assert len(starts) == len(results["epoch"]["rows"]) - 2  # every row but the two floors
    assert all(guard["handgrad_bit_identical_across_processes"].values())
    assert "Correctness guard: passed" in stdout


def test_training_lowered_the_loss(run):
    _, results, _ = run
    for r in results["epoch"]["rows"]:
        if r["contender"] != "floor":
            assert r["losses"][0] < r["initial_losses"][0], r["label"]


def test_latency_covers_every_contender_and_size(run):
    _, results, _ = run
    rows = results["latency"]["rows"]
    found = {(r["contender"], r["what"], r["size"]) for r in rows}
    for c in ("handgrad", "torch", "sklearn", "floor"):
        assert {(c, "predict", 1), (c, "predict", 1000)} <= found
        assert {(c, "step", b) for b in (1, 16, 128, 1024)} <= found
    assert {("handgrad-fit", "step", b) for b in (1, 16, 128, 1024)} <= found
    index = {(r["contender"], r["what"], r["size"]): r for r in rows}
    for r in rows:
        assert 0 < r["best"] <= r["median"]
        torch = index[("torch", r["what"], r["size"])]
        assert r["ratio_torch"]["median"] == pytest.approx(r["median"] / torch["median"])


def test_sweep_has_each_point_and_its_ratio(run):
    _, results, _ = run
    sweep = results["sweep"]
    assert [p["batch_size"] for p in sweep["batch"]] == [1, 64]
    assert [p["layers"] for p in sweep["width"]] == [[784, 64, 32, 10]]
    for p in sweep["batch"] + sweep["width"]:
        hg, floor = p["handgrad_step"], p["floor_step"]
        assert p["ratio"]["median"] == pytest.approx(hg["median"] / floor["median"])
        assert p["handgrad_per_sample"] == pytest.approx(hg["median"] / p["batch_size"])
        assert p["steps"] >= 4


def test_goals_and_memory_are_judged_from_the_figures(run):
    _, results, _ = run
    goals = {g["goal"]: g for g in results["goals"]}
    assert len(goals) == 8
    for g in goals.values():
        assert g["met"] == (g["measured"] <= g["target"])
        assert g["margin"] == pytest.approx(g["measured"] / g["target"] - 1)
    rows = {(r["contender"], r["optimizer"], r["dtype"]): r for r in results["epoch"]["rows"]}
    sgd = goals["SGD epoch vs GEMM floor"]
    assert sgd["measured"] == rows[("handgrad", "sgd", "float32")]["ratio_floor"]["median"]
    mem = results["memory"]
    assert mem["data_bytes"] == N_ROWS * (784 * 4 + 8)
    assert mem["overhead"] == mem["peak_rss"] - mem["rss_before_data"] - mem["data_bytes"]
    assert mem["passed"] == (mem["overhead"] <= 64 * 2**20)


def test_tables_and_charts_are_written(run):
    out, results, _ = run
    text = (out / "results.md").read_text()
    for heading in (
        "### Machine",
        "### Goals",
        "### One epoch",
        "### Latency",
        "### How cost grows",
    ):
        assert heading in text
    assert results["machine"]["numpy"] == np.__version__
    for name in ("epoch.png", "latency.png", "sweep.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_render_redraws_a_saved_run_without_measuring(run, tmp_path):
    out, results, _ = run
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "run.py"),
        f"--render={out / 'results.json'}",
        f"--out={tmp_path}",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "measurements to run" not in proc.stderr
    assert (tmp_path / "results.md").read_text() == (out / "results.md").read_text()
    again = json.loads((tmp_path / "results.json").read_text())
    assert again["guard"] == results["guard"] and again["goals"] == results["goals"]


def test_each_kind_of_cpu_keeps_its_own_section_of_the_page(run, tmp_path):
    from benchmarks import run as run_module

    _, results, _ = run
    doc = tmp_path / "performance.md"
    doc.write_text(
        "intro\n<!-- results:amd:begin -->\nold AMD figures\n<!-- results:amd:end -->\n\n"
        "<!-- results:next -->\n\nafter\n"
    )
    intel = {**results, "machine": {**results["machine"], "cpu": "Intel(R) Xeon(R) Processor"}}
    run_module.update_doc(intel, doc)
    text = doc.read_text()
    assert text.index("old AMD figures") < text.index("## Figures: Intel(R) Xeon(R) Processor")
    assert text.index("<!-- results:intel:end -->") < text.index("<!-- results:next -->")
    assert text.endswith("<!-- results:next -->\n\nafter\n")
    run_module.update_doc(intel, doc)  # a second run of the same CPU replaces its section
    assert doc.read_text() == text
    assert run_module.cpu_key("AMD EPYC 9R14") == "amd"
    assert run_module.cpu_key("Neoverse-V2 (ARM)") == "neoverse-v2-arm"


# The scikit-learn comparison --------------------------------------------------------------------


def test_sklearn_dropin_quick_run_writes_paired_figures(tmp_path):
    """One data set and solver, one repeat of the folds: both libraries score every fold, and the
    summary's figures are those of the folds it records."""
    assert (
        sklearn_dropin.main(
            ["--quick", "--only", "iris", "--solvers", "lbfgs", "--out", str(tmp_path)]
        )
        == 0
    )
    report_ = json.loads((tmp_path / "sklearn_dropin-quick.json").read_text())
    (case,) = report_["results"]
    assert (case["data"], case["solver"], case["folds"]) == ("iris", "lbfgs", 5)
    ours, theirs = case["folds_detail"]["handgrad"], case["folds_detail"]["sklearn"]
    assert len(ours["scores"]) == len(theirs["scores"]) == 5
    assert all(50 < s <= 100 for s in ours["scores"] + theirs["scores"])
    assert case["points"] == pytest.approx(np.mean(ours["scores"]) - np.mean(theirs["scores"]))
    ratios = np.divide(ours["seconds"], theirs["seconds"])
    assert case["time_ratio"] == pytest.approx(np.median(ratios))
    assert "| iris | lbfgs | 5 |" in (tmp_path / "sklearn_dropin-quick.md").read_text()


# The CNN benchmark ---------------------------------------------------------------------------


def test_the_cnn_floor_is_the_907_mflop_of_the_im2col_products():
    from benchmarks.cnn import GemmFloor

    floor = GemmFloor(np.random.default_rng(0))
    assert len(floor.products) == 11
    # conv1 forward and dW 2·(2·100352·9·16), conv2 forward, dW, dX 3·(2·25088·144·32),
    # the dense layers 3·(2·128·1568·128) + 3·(2·128·128·10)
    assert floor.flops == 57_802_752 + 693_633_024 + 154_140_672 + 983_040 == 906_559_488


def test_the_cnn_benchmark_quick_run_writes_ratios_it_can_account_for(tmp_path):
    from benchmarks import cnn

    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cnn.py"), "--quick", "--no-memory"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((cnn.RESULTS / "quick" / "cnn.json").read_text())
    assert report["guard"]["passed"]
    times = report["timing"]["per_step_seconds"]
    assert set(times) == {"handgrad", "torch_nchw", "torch_channels_last", "gemm_floor"}
    for name, ratio in report["timing"]["ratios"].items():
        assert ratio["median"] == pytest.approx(
            np.median(times["handgrad"]) / np.median(times[name]), rel=1e-12
        )
    assert "| torch_nchw |" in (cnn.RESULTS / "quick" / "cnn.md").read_text()
