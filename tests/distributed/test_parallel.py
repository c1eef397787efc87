"""hg.distributed: data-parallel training over MPI reaches the weights of single-process training.

The multi-rank tests launch tests/distributed_worker.py with the mpiexec that the mpich wheel puts
beside the venv's python, on this machine only; each rank writes its weights and history, which
are compared with one process training on all the rows with the same seed and global batch size.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.distributed import mpi

import handgrad as hg
from handgrad.distributed import shard
from handgrad.train.checkpoints import read_checkpoint

WORKER = Path(__file__).resolve().parents[1] / "distributed_worker.py"
_spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)

MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
#: No healthy launch here takes more than a few seconds; a hang fails the test instead of the run.
HANG_GUARD_SECONDS = 120


def launch(tmp_path: Path, spec: dict, *mpiexec_options: str) -> subprocess.CompletedProcess:
    """Run the worker on ``len(spec["sizes"])`` ranks of this machine."""
    mpi()
    assert MPIEXEC, "mpiexec not found: pip install 'handgrad[mpi]' brings it into the venv"
    spec = {"out": str(tmp_path / "rank"), **spec}
    path = tmp_path / f"spec{len(list(tmp_path.glob('spec*')))}.json"
    path.write_text(json.dumps(spec))
    # One BLAS thread per rank: several ranks share this machine's cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [MPIEXEC, "-launcher", "fork", *mpiexec_options, "-n", str(len(spec["sizes"]))]
    return subprocess.run(
        [*command, sys.executable, str(WORKER), str(path)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        env=env,
        cwd=tmp_path,
    )


def single_process(spec: dict, epochs: int | None = None):
    """The same problem trained by one process on all the rows: (model, history)."""
    X, y, X_val, y_val, model, optimizer = worker.problem(spec)
    options = worker.fit_options({**spec, "epochs": epochs or spec["epochs"]})
    options.pop("callbacks", None)
    options["resume_from"] = None
    if "val_sizes" in spec:
        options["validation_data"] = (X_val, y_val)
    history = model.fit(X, y, optimizer=optimizer, **options)
    return model, history


def rank_results(tmp_path: Path, n_ranks: int) -> list[dict[str, np.ndarray]]:
    out = []
    for r in range(n_ranks):
        with np.load(tmp_path / f"rank.{r}.npz") as f:
            out.append(dict(f))
    return out


def assert_same_training(result: dict, model: hg.Sequential, history: hg.History, atol: float):
    for name, p in [*model.named_parameters(), *model.named_state()]:
        np.testing.assert_allclose(result[name], p.data, rtol=0, atol=atol, err_msg=name)
    for key, values in history.history.items():
        if key != "time":
            np.testing.assert_allclose(result[f"history.{key}"], values, rtol=0, atol=atol)


# Without MPI -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_rows", [0, 1, 7, 100, 137])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 8])
def test_shard_cuts_the_rows_into_contiguous_blocks_in_rank_order(n_rows, size):
    blocks = [shard(n_rows, r, size) for r in range(size)]
    rows = np.concatenate([np.arange(n_rows)[b] for b in blocks])
    np.testing.assert_array_equal(rows, np.arange(n_rows))
    lengths = [b.stop - b.start for b in blocks]
    assert max(lengths) - min(lengths) <= 1


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((10, 3, 3), ValueError, r"rank must be in \[0, 3\) for size=3, got 3"),
        ((10, 0, 0), ValueError, "size must be >= 1, got 0"),
        ((-1, 0, 1), ValueError, "n_rows must be >= 0, got -1"),
        ((10.0, 0, 1), TypeError, r"n_rows must be an integer, got 10.0 \(float\)"),
    ],
)
def test_shard_names_a_bad_argument(args, error, message):
    with pytest.raises(error, match=message):
        shard(*args)


# One rank, in this process ----------------------------------------------------------------------


def test_one_rank_trains_bit_for_bit_like_one_process():
    MPI = mpi()
    spec = {"sizes": [90], "val_sizes": [20], "epochs": 3, "batch_size": 16}
    model, history = single_process(spec)
    X, y, X_val, y_val, dist_model, optimizer = worker.problem(spec)
    dist_history = dist_model.fit(
        X,
        y,
        optimizer=optimizer,
        validation_data=(X_val, y_val),
        distributed=MPI.COMM_SELF,
        **{k: v for k, v in worker.fit_options(spec).items() if k != "resume_from"},
    )
    for (name, p), q in zip(model.named_parameters(), dist_model.parameters()):
        np.testing.assert_array_equal(q.data, p.data, err_msg=name)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert dist_history[key] == history[key]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"distributed": "yes"}, TypeError, "distributed must be True, False, an mpi4py"),
        ({"validation_split": 0.2}, ValueError, "validation_split needs every row on one process"),
        (
            {"metrics": [hg.Accuracy(), type("Mine", (hg.Metric,), {})()]},
            TypeError,
            "distributed training adds up the counts of accuracy, mae and r2",
        ),
    ],
)
def test_distributed_options_that_cannot_work_are_refused(kwargs, error, message):
    MPI = mpi()
    kwargs = {"distributed": MPI.COMM_SELF, **kwargs}
    model = hg.Sequential([hg.Dense(2, 2, rng=0)])
    X, y = np.random.default_rng(0).standard_normal((10, 2)), np.arange(10) % 2
    with pytest.raises(error, match=message):
        model.fit(
            X,
            y,
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.SGD(model.parameters(), lr=0.1),
            **kwargs,
        )


# Several ranks, launched with mpiexec -------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        # The shuffling follows rank 0's seed, as the single process does.
        {"sizes": [45, 45], "batch_size": 16, "gradient_clip": 0.5, "seed_of_rank": [7, 99]},
        {"sizes": [100, 37, 0], "val_sizes": [10, 0, 7], "batch_size": 16},
        {"sizes": [20, 1, 69, 0], "batch_size": 32, "optimizer": "sgd", "val_sizes": [5, 5, 5, 5]},
    ],
    ids=["2 ranks, clipped", "3 ranks, uneven, one empty", "4 ranks, one row, one empty"],
)
def test_ranks_reach_the_weights_of_one_process_on_the_global_batches(tmp_path, spec):
    spec = {"epochs": 3, **spec}
    run = launch(tmp_path, spec)
    assert run.returncode == 0, run.stderr
    model, history = single_process(spec)
    results = rank_results(tmp_path, len(spec["sizes"]))
    for result in results:
        assert_same_training(result, model, history, atol=1e-12)
        for name in result:  # every rank holds exactly the same weights and figures
            if name != "history.time":
                np.testing.assert_array_equal(result[name], results[0][name])


@pytest.mark.parametrize(
    "spec",
    [
        {"sizes": [45, 45], "batch_size": 16},
        # Ranks hold one row or none of many batches: they still take part in the statistics.
        {"sizes": [60, 3, 0], "val_sizes": [4, 4, 4], "batch_size": 8, "optimizer": "sgd"},
    ],
    ids=["2 ranks", "3 ranks, one nearly empty, one empty"],
)
def test_batch_norm_normalises_over_the_global_batch_as_one_process_does(tmp_path, spec):
    spec = {"epochs": 3, "batch_norm": True, **spec}
    run = launch(tmp_path, spec)
    assert run.returncode == 0, run.stderr
    model, history = single_process(spec)
    assert not np.array_equal(model[2].running_mean.data, 0)
    results = rank_results(tmp_path, len(spec["sizes"]))
    for result in results:
        assert_same_training(result, model, history, atol=1e-12)  # running statistics too
        np.testing.assert_array_equal(result["2.running_var"], results[0]["2.running_var"])


def test_rows_of_signals_train_across_ranks_as_in_one_process(tmp_path):
    spec = {"sizes": [50, 0, 30], "epochs": 2, "batch_size": 16, "conv": True}
    run = launch(tmp_path, spec)
    assert run.returncode == 0, run.stderr
    for result in rank_results(tmp_path, 3):
        assert_same_training(result, *single_process(spec), atol=1e-12)


def test_batch_norm_resumes_on_another_number_of_ranks(tmp_path):
    ckpt = str(tmp_path / "run.ckpt")
    first = {"sizes": [50, 30], "epochs": 2, "batch_size": 16, "checkpoint": ckpt,
             "batch_norm": True}  # fmt: skip
    run = launch(tmp_path, first)
    assert run.returncode == 0, run.stderr
    second = {**first, "sizes": [20, 20, 40], "epochs": 4, "resume_from": ckpt}
    run = launch(tmp_path, second)
    assert run.returncode == 0, run.stderr
    model, history = single_process({**second, "resume_from": None})
    for result in rank_results(tmp_path, 3):
        assert_same_training(result, model, history, atol=1e-12)


def test_one_rank_under_mpiexec_is_bit_for_bit_one_process(tmp_path):
    spec = {"sizes": [90], "val_sizes": [20], "epochs": 2, "batch_size": 16}
    run = launch(tmp_path, spec)
    assert run.returncode == 0, run.stderr
    assert_same_training(rank_results(tmp_path, 1)[0], *single_process(spec), atol=0)


def test_a_checkpoint_resumes_on_another_number_of_ranks(tmp_path):
    ckpt = str(tmp_path / "run.ckpt")
    first = {"sizes": [100, 37, 0], "epochs": 2, "batch_size": 16, "checkpoint": ckpt}
    run = launch(tmp_path, first)
    assert run.returncode == 0, run.stderr
    _, _, training = read_checkpoint(ckpt)
    assert training["epoch"] == 2
    second = {**first, "sizes": [70, 67], "epochs": 4, "resume_from": ckpt}
    run = launch(tmp_path, second)
    assert run.returncode == 0, run.stderr
    model, history = single_process(second)
    for result in rank_results(tmp_path, 2):
        assert_same_training(result, model, history, atol=1e-12)


@pytest.mark.parametrize(
    ("how", "launcher_options"),
    # A rank that exits is noticed by mpiexec, which stops the job at once unless told not to; a
    # rank that hangs is noticed by no one but the other ranks.
    [("exit", ("-disable-auto-cleanup",)), ("hang", ())],
)
def test_when_a_rank_is_lost_the_others_stop_with_a_timeout_and_the_checkpoint_is_intact(
    tmp_path, how, launcher_options
):
    ckpt = tmp_path / "run.ckpt"
    spec = {
        "sizes": [40, 40, 40],
        "epochs": 3,
        "batch_size": 16,
        "checkpoint": str(ckpt),
        "timeout": 4,
        "fail": {"rank": 1, "epoch": 1, "batch": 3, "how": how},
    }
    run = launch(tmp_path, spec, *launcher_options)
    assert run.returncode != 0
    # Both survivors time out together; the first to abort may end the other before it prints.
    reports = re.findall(
        r"CollectiveTimeoutError: rank (\d) of 3: the gradient sum of epoch 2, batch 4 did not "
        r"complete within 4 s: another rank has died, hung or lost its connection",
        run.stderr,
    )
    assert reports and set(reports) <= {"0", "2"}, run.stderr
    assert not list(tmp_path.glob("rank.*.npz"))  # no rank finished
    saved, _, training = read_checkpoint(ckpt)
    assert training["epoch"] == 1
    model, _ = single_process(spec, epochs=1)
    for (name, p), q in zip(model.named_parameters(), saved.parameters()):
        np.testing.assert_allclose(q.data, p.data, rtol=0, atol=1e-12, err_msg=name)


def test_a_rank_that_diverges_stops_every_rank_at_the_same_step(tmp_path):
    spec = {"sizes": [40, 40, 40], "epochs": 3, "batch_size": 16, "huge_row": 57}
    run = launch(tmp_path, spec)
    with pytest.raises(hg.TrainingDiverged) as single:
        single_process(spec)
    where = f"training diverged at epoch {single.value.epoch + 1}, batch {single.value.batch + 1}"
    errors = [(tmp_path / f"rank.{r}.error").read_text() for r in range(3)]
    reasons = [m for e in errors for m in re.findall(rf"TrainingDiverged: {where}: ([^(]+)", e)]
    assert sorted(reasons) == [
        "another rank's loss or gradient is not finite ",
        "another rank's loss or gradient is not finite ",
        "overflow encountered in dot ",
    ], run.stderr
    assert "MPI_Abort" not in run.stderr  # the ranks stopped together and finished MPI normally


def test_ranks_with_different_settings_refuse_to_start(tmp_path):
    spec = {"sizes": [10, 10, 10], "epochs": 1, "batch_size": 8, "batch_size_of_rank": [8, 8, 4]}
    run = launch(tmp_path, spec)
    assert run.returncode != 0
    message = "needs the same batch_size on every rank: rank 0 has 8, rank 2 has 4"
    for r in range(3):
        assert message in (tmp_path / f"rank.{r}.error").read_text(), run.stderr


def test_fit_shard_on_one_rank_is_fit_on_all_the_rows():
    MPI = mpi()
    spec = {"sizes": [90], "epochs": 2, "batch_size": 16}
    model, history = single_process(spec)
    X, y, _, _, shard_model, optimizer = worker.problem(spec)
    options = {k: v for k, v in worker.fit_options(spec).items() if k != "resume_from"}
    shard_history = hg.distributed.fit_shard(
        shard_model, X, y, comm=MPI.COMM_SELF, timeout=30, optimizer=optimizer, **options
    )
    for p, q in zip(model.parameters(), shard_model.parameters()):
        np.testing.assert_array_equal(q.data, p.data)
    assert shard_history["loss"] == history["loss"]


def readme_mpi_example() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Training on several machines (MPI)")[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_on_two_ranks_and_only_rank_0_reports(tmp_path):
    mpi()
    rng = np.random.default_rng(0)
    np.save(tmp_path / "X.npy", rng.random((40, 784), dtype=np.float32))
    np.save(tmp_path / "y.npy", rng.integers(0, 10, 40))
    (tmp_path / "train.py").write_text(readme_mpi_example())
    script = [sys.executable, "train.py"]
    command = [MPIEXEC, "-launcher", "fork", "-n", "2", *script]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    run = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=HANG_GUARD_SECONDS
    )
    assert run.returncode == 0, run.stderr
    epochs = re.findall(r"^epoch (\d+)/10 - loss", run.stderr, re.M)
    assert epochs == [str(e) for e in range(1, 11)], run.stderr  # one rank printed them
    two_ranks = hg.load(tmp_path / "model.safetensors")
    _, _, training = read_checkpoint(tmp_path / "run.ckpt")
    assert training["epoch"] == 10
    # The same script without mpiexec is one rank holding every row.
    (tmp_path / "model.safetensors").unlink()
    one = subprocess.run(script, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert one.returncode == 0, one.stderr
    one_rank = hg.load(tmp_path / "model.safetensors")
    for p, q in zip(one_rank.parameters(), two_ranks.parameters()):
        np.testing.assert_allclose(q.data, p.data, rtol=0, atol=1e-12)


def test_each_rank_and_layer_draws_its_own_dropout_stream_and_a_resume_draws_the_same():
    shared = np.random.default_rng(5).bit_generator.state
    first = [
        np.random.default_rng(hg.distributed.layer_seed(shared, r, 0)).random(4) for r in (0, 1)
    ]
    assert not np.array_equal(first[0], first[1])
    other_layer = np.random.default_rng(hg.distributed.layer_seed(shared, 0, 1)).random(4)
    assert not np.array_equal(first[0], other_layer)
    again = np.random.default_rng(hg.distributed.layer_seed(dict(shared), 0, 0)).random(4)
    np.testing.assert_array_equal(again, first[0])


def test_dropout_across_ranks_is_reproducible_and_resumes_bit_for_bit(tmp_path):
    ckpt = str(tmp_path / "run.ckpt")
    spec = {"sizes": [50, 37], "epochs": 4, "batch_size": 16, "dropout": True, "checkpoint": ckpt}
    assert launch(tmp_path, spec).returncode == 0
    whole = rank_results(tmp_path, 2)
    assert launch(tmp_path, {**spec, "epochs": 2}).returncode == 0
    run = launch(tmp_path, {**spec, "resume_from": ckpt})
    assert run.returncode == 0, run.stderr
    for uninterrupted, resumed in zip(whole, rank_results(tmp_path, 2)):
        for name, value in uninterrupted.items():
            if name != "history.time":
                np.testing.assert_array_equal(resumed[name], value, err_msg=name)
    model, _ = single_process(spec)  # one process draws other masks: the runs part ways
    assert not np.allclose(whole[0]["0.weight"], model[0].weight.data)


def test_ranks_that_cannot_all_resume_stop_together_naming_the_rank(tmp_path):
    ckpt = str(tmp_path / "run.ckpt")
    spec = {"sizes": [30, 30], "epochs": 1, "batch_size": 8, "checkpoint": ckpt}
    assert launch(tmp_path, spec).returncode == 0
    missing = str(tmp_path / "elsewhere.ckpt")
    run = launch(tmp_path, {**spec, "epochs": 2, "resume_from_of_rank": [ckpt, missing]})
    assert run.returncode != 0
    reason = f"ModelFileError: no model file at {missing!r}"
    assert f"{reason}\n" in run.stderr, run.stderr  # rank 1's own error
    assert f"ValueError: resume_from: rank 1 could not resume ({reason})" in run.stderr
    assert "MPI_Abort" not in run.stderr  # both ranks stopped at the start, together


def test_the_command_line_trains_on_two_ranks_as_one_process_does(tmp_path):
    """``mpiexec -n 2 handgrad train ... --distributed`` ends with the single-process weights."""
    mpi()
    import handgrad as hg

    command = [
        sys.executable,
        "-m",
        "handgrad.cli",
        "train",
        "--dataset",
        "digits",
        "--layers",
        "32",
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--dtype",
        "float64",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--seed",
        "4",
        "--verbose",
        "0",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    single = subprocess.run(
        [*command, "--out", str(tmp_path / "one.safetensors")],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )
    assert single.returncode == 0, single.stderr
    ranks = subprocess.run(
        [
            MPIEXEC,
            "-launcher",
            "fork",
            "-n",
            "2",
            *command,
            "--distributed",
            "--out",
            str(tmp_path / "two.safetensors"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )
    assert ranks.returncode == 0, ranks.stderr
    assert ranks.stdout.count("saved the model to") == 1  # only rank 0 speaks and writes
    one, two = hg.load(tmp_path / "one.safetensors"), hg.load(tmp_path / "two.safetensors")
    for p, q in zip(one.parameters(), two.parameters()):
        np.testing.assert_allclose(q.data, p.data, rtol=0, atol=1e-12)
