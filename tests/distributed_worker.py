"""One rank of a distributed training run, launched with mpiexec by
tests/distributed/test_parallel.py.

``python distributed_worker.py SPEC.json``: every rank builds the same global data set and the
same network from the spec's seeds, keeps its shard (``spec["sizes"][rank]`` rows, in rank order)
and trains with ``fit(..., distributed=ProcessGroup(timeout=spec["timeout"]))``. Each rank writes
its final weights and history to ``{spec["out"]}.{rank}.npz``. The test builds the same problem
with :func:`problem` and trains it in one process.

``spec["conv"]`` trains a 1-D convolution on rows of shape (5, 1).
``spec["batch_norm"]`` adds batch norm (the statistics of the global batch) to the network.
``spec["fail"]``, if given, makes one rank fail at the start of a batch:
``{"rank": r, "epoch": e, "batch": b, "how": "exit" | "hang"}`` (0-based epoch and batch).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import handgrad as hg

N_FEATURES, N_CLASSES = 5, 3


def problem(spec: dict):
    """``(X, y, X_val, y_val, model, optimizer)``: the global data and a fresh network."""
    rng = np.random.default_rng(spec.get("data_seed", 0))
    n, n_val = sum(spec["sizes"]), sum(spec.get("val_sizes", [0]))
    X = rng.standard_normal((n + n_val, N_FEATURES))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] + X[:, 2] > 0.5)
    if spec.get("huge_row") is not None:
        X[spec["huge_row"]] = 1e308  # overflows in the first layer's product
    layers = [hg.Dense(N_FEATURES, 8, rng=1), hg.Tanh(), hg.Dense(8, N_CLASSES, rng=2)]
    if spec.get("dropout"):
        layers.insert(2, hg.Dropout(0.3, rng=3))
    if spec.get("batch_norm"):  # statistics of the batch, one of them inside a residual block
        # (after the activations: a bias right before batch norm has a gradient of 0 but for
        # rounding, which Adam's first steps turn into steps of ±lr)
        block = hg.Sequential([hg.BatchNorm(8, momentum=0.2), hg.Dense(8, 8, rng=4), hg.Tanh()])
        layers[2:2] = [hg.BatchNorm(8), hg.Residual(block)]
    if spec.get("conv"):  # rows of another rank: each row a signal (5, 1)
        X = X.reshape(len(X), N_FEATURES, 1)
        layers = [hg.Conv1D(1, 4, 3, padding="same", rng=5), hg.ReLU(), hg.MaxPool1D(2),
                  hg.Flatten(), hg.Dense(8, N_CLASSES, rng=6)]  # fmt: skip
    model = hg.Sequential(layers)
    if spec.get("optimizer", "adam") == "adam":
        optimizer = hg.Adam(model.parameters(), lr=0.05, weight_decay=1e-3)
    else:
        optimizer = hg.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    return X[:n], y[:n], X[n:], y[n:], model, optimizer


def fit_options(spec: dict) -> dict:
    """The keyword arguments of fit that the spec sets (the same on every rank)."""
    options = {
        "loss": hg.CrossEntropyLoss(),
        "epochs": spec["epochs"],
        "batch_size": spec["batch_size"],
        "seed": spec.get("seed", 7),
        "gradient_clip": spec.get("gradient_clip"),
        "resume_from": spec.get("resume_from"),
    }
    if spec.get("checkpoint"):
        options["callbacks"] = [hg.Checkpoint(spec["checkpoint"])]
    return options


class Fail(hg.Callback):
    """Makes this rank die or hang at the start of a given batch."""

    def __init__(self, epoch: int, batch: int, how: str):
        self.epoch, self.batch, self.how = epoch, batch, how

    def on_batch_end(self, run) -> None:
        if (run.epoch, run.batch + 1) == (self.epoch, self.batch):
            if self.how == "exit":
                os._exit(3)
            time.sleep(600)


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    X, y, X_val, y_val, model, optimizer = problem(spec)
    rank = hg.distributed.rank()
    start = sum(spec["sizes"][:rank])
    rows = slice(start, start + spec["sizes"][rank])
    options = fit_options(spec)
    if "val_sizes" in spec:
        v0 = sum(spec["val_sizes"][:rank])
        vrows = slice(v0, v0 + spec["val_sizes"][rank])
        options["validation_data"] = (X_val[vrows], y_val[vrows])
    for key in ("batch_size", "seed", "resume_from"):  # settings that differ between ranks
        if f"{key}_of_rank" in spec:
            options[key] = spec[f"{key}_of_rank"][rank]
    fail = spec.get("fail")
    if fail and fail["rank"] == rank:
        failing = Fail(fail["epoch"], fail["batch"], fail["how"])
        options["callbacks"] = [*options.get("callbacks", []), failing]
    if rank:  # rank 0's weights are broadcast, so the others may start from any
        for p in model.parameters():
            p.data[...] = rank
    group = hg.distributed.ProcessGroup(timeout=spec.get("timeout", 60))
    group.comm.Barrier()  # the ranks start fit together: a short timeout then covers the steps
    try:
        history = model.fit(X[rows], y[rows], optimizer=optimizer, distributed=group, **options)
    except Exception as exc:
        # Each rank's own file: the ranks' tracebacks interleave on the shared stderr.
        Path(f"{spec['out']}.{rank}.error").write_text(f"{type(exc).__name__}: {exc}")
        raise
    arrays = {name: p.data for name, p in model.named_parameters()}
    arrays.update({name: a.data for name, a in model.named_state()})
    arrays.update({f"history.{k}": np.array(v) for k, v in history.history.items()})
    np.savez(f"{spec['out']}.{rank}.npz", **arrays)


if __name__ == "__main__":
    main()
