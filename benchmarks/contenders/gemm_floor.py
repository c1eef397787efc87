"""The GEMM floor: the matrix products of a training step and nothing else, in NumPy.

For a network of L dense layers and a batch ``X`` of B rows, a step needs

    forward    Z₁ = X·W₁, Z₂ = Z₁·W₂, …, Z_L = Z_{L−1}·W_L          L GEMMs
    backward   dW_l = Z_{l−1}ᵀ·G_l  for every l                      L GEMMs
               G_{l−1} = G_l·W_lᵀ   for l = L … 2                    L − 1 GEMMs

which for three layers is the 8 necessary GEMMs (the first layer's input gradient is not needed).
No bias, activation, loss, gather or update: whatever a real implementation takes beyond this
time is overhead. Every product writes into a preallocated array (``np.dot(out=)``), and the
values are the forward outputs themselves, so that they stay finite without any elementwise work.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from ..timing import summary, time_calls
from ..workload import Work


class GemmStep:
    """Preallocated operands of one step for batches of up to ``batch_size`` rows."""

    def __init__(self, weights: list[np.ndarray], batch_size: int, dtype):
        self.W = [np.ascontiguousarray(W, dtype=dtype) for W in weights]
        self.WT = [W.T for W in self.W]
        self.Z = [np.empty((batch_size, W.shape[1]), dtype) for W in self.W]
        self.G = [np.empty((batch_size, W.shape[0]), dtype) for W in self.W[1:]]
        self.dW = [np.empty_like(W) for W in self.W]

    def forward(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        a = X
        for W, Z in zip(self.W, self.Z):
            a = np.dot(a, W, out=Z[:n])
        return a

    def step(self, X: np.ndarray) -> None:
        n = len(X)
        g = self.forward(X)  # the output stands in for dL/dZ_L
        for layer in range(len(self.W) - 1, -1, -1):
            a = X if layer == 0 else self.Z[layer - 1][:n]
            np.dot(a.T, g, out=self.dW[layer])
            if layer:
                g = np.dot(g, self.WT[layer], out=self.G[layer - 1][:n])


def run_epoch(gemm: GemmStep, X: np.ndarray, batch_size: int) -> None:
    for start in range(0, len(X), batch_size):
        gemm.step(X[start : start + batch_size])


def epoch(work: Work, optimizer: str | None = None, dtype: str = "float32") -> dict:
    """Seconds for one epoch of GEMMs at the workload's batch size (``optimizer`` is ignored:
    the floor is the same for every update rule)."""
    spec = work.spec
    X = work.inputs(dtype)
    gemm = GemmStep([W for W, _ in work.weights(dtype)], spec.batch_size, dtype)
    run_epoch(gemm, X[: spec.warmup_rows], spec.batch_size)
    t0 = time.perf_counter()
    run_epoch(gemm, X, spec.batch_size)
    return {"seconds": time.perf_counter() - t0}


def latency(work: Work, predict_sizes, step_sizes, budget: float) -> list[dict]:
    """Forward GEMMs for ``predict`` of n rows, and the step's GEMMs at each batch size."""
    X = work.inputs("float32")
    weights = [W for W, _ in work.weights("float32")]
    rows = []
    for n in predict_sizes:
        gemm = GemmStep(weights, n, "float32")
        xs = np.resize(X, (n, X.shape[1]))
        times = time_calls(partial(gemm.forward, xs), budget)
        rows.append({"what": "predict", "size": n, **summary(times)})
    for b in step_sizes:
        gemm = GemmStep(weights, b, "float32")
        xs = np.resize(X, (b, X.shape[1]))
        times = time_calls(partial(gemm.step, xs), budget)
        rows.append({"what": "step", "size": b, **summary(times)})
    return rows
