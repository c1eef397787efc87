"""PyTorch on the CPU: ``nn.Sequential`` trained by a manual mini-batch loop or a DataLoader loop.

The manual loop gathers each batch by index (``index_select``), as a loop over a shuffled order
must; here the order is the identity because the rows were permuted once beforehand, so both
loops see exactly the rows, in exactly the order, that handgrad's ``fit(shuffle=False)`` sees.
"""

from __future__ import annotations

import itertools
import time
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..timing import summary, time_calls
from ..workload import Work, mean_cross_entropy


def build(weights: list[tuple[np.ndarray, np.ndarray]]) -> nn.Sequential:
    modules: list[nn.Module] = []
    for i, (W, _) in enumerate(weights):
        if i:
            modules.append(nn.ReLU())
        modules.append(nn.Linear(W.shape[0], W.shape[1]))
    model = nn.Sequential(*modules)
    set_weights(model, weights)
    return model


@torch.no_grad()
def set_weights(model: nn.Sequential, weights) -> None:
    linear = [m for m in model if isinstance(m, nn.Linear)]
    for layer, (W, b) in zip(linear, weights):
        # torch keeps the weight transposed, as (out, in)
        layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
        layer.bias.copy_(torch.from_numpy(b))


def make_optimizer(model: nn.Module, optimizer: str, work: Work) -> torch.optim.Optimizer:
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=work.spec.sgd_lr)
    if optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=work.spec.adam_lr)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")


def train_step(model, opt, xb, yb) -> torch.Tensor:
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss


def manual_epoch(model, opt, X, y, batch_size: int) -> float:
    order = torch.arange(len(X))
    total = 0.0
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        loss = train_step(model, opt, X.index_select(0, idx), y.index_select(0, idx))
        total += loss.item() * len(idx)
    return total / len(X)


def dataloader_epoch(model, opt, X, y, batch_size: int) -> float:
    total = 0.0
    for xb, yb in DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False):
        total += train_step(model, opt, xb, yb).item() * len(xb)
    return total / len(X)


def epoch(work: Work, optimizer: str, loop: str = "manual", dtype: str = "float32") -> dict:
    """One timed epoch of the ``loop`` ("manual" or "dataloader") on the prepared rows."""
    spec = work.spec
    run = {"manual": manual_epoch, "dataloader": dataloader_epoch}[loop]
    np_dtype = np.dtype(dtype)
    X, y = torch.from_numpy(work.inputs(np_dtype)), torch.from_numpy(work.labels())
    weights = work.weights(np_dtype)
    model = build(weights).to(getattr(torch, dtype))
    with torch.no_grad():
        initial_loss = mean_cross_entropy(model(X[:1024]).numpy(), y[:1024].numpy())
    warm = spec.warmup_rows
    run(model, make_optimizer(model, optimizer, work), X[:warm], y[:warm], spec.batch_size)
    set_weights(model, weights)
    opt = make_optimizer(model, optimizer, work)
    t0 = time.perf_counter()
    loss = run(model, opt, X, y, spec.batch_size)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "loss": loss, "initial_loss": initial_loss}


def latency(work: Work, predict_sizes, step_sizes, budget: float) -> list[dict]:
    """``model(x)`` under ``no_grad`` for n rows (already a tensor), and one SGD step at batch b."""
    X, y = torch.from_numpy(work.inputs("float32")), torch.from_numpy(work.labels())
    model = build(work.weights("float32"))
    opt = make_optimizer(model, "sgd", work)

    def predict(x) -> None:
        with torch.no_grad():
            model(x)

    def step(batches) -> None:
        train_step(model, opt, *next(batches))

    rows = []
    for n in predict_sizes:
        xs = X[torch.arange(n) % len(X)]
        times = time_calls(partial(predict, xs), budget)
        rows.append({"contender": "torch", "what": "predict", "size": n, **summary(times)})
    for b in step_sizes:
        idx = (torch.arange(8 * b) % len(X)).reshape(8, b)
        batches = itertools.cycle([(X[i], y[i]) for i in idx])
        times = time_calls(partial(step, batches), budget)
        rows.append({"contender": "torch", "what": "step", "size": b, **summary(times)})
    return rows
