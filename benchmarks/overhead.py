"""Where handgrad's epoch spends the time its GEMMs do not: one part left out at a time.

Each variant trains the reference MLP (784-256-128-10, batch 128, one epoch of Fashion-MNIST or
the synthetic fallback) through ``model.fit`` with one part replaced by a stand-in that costs
nothing: the activations by a pass-through layer, the loss by one that returns its input as the
gradient, the optimizer step by nothing, the training metrics switched off, the batch gather by
one batch gathered once and handed out again, the biases by Dense layers without them. What an
epoch loses when a part is left out is what that part costs; what no part accounts for (the loop,
the layers' calls and checks, the data check when ``fit`` starts) is the remainder. The same runs
again with Adam, for its step. Every variant runs in its own process at one
BLAS thread, interleaved with the others, and is timed by the process's CPU time (which other
work on a shared machine disturbs less than the wall clock); rows give the best of the repeats.

    python benchmarks/overhead.py [--repeats 3]

The learning rate is tiny (1e-6) in every variant so that the network without activations, a
linear one, does not diverge; the time of a step does not depend on it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
PARTS = ["no metrics", "no activations", "no loss", "no batch gather", "no biases"]
VARIANTS = [
    "GEMM floor", "fit", *PARTS, "no optimizer step", "fit, Adam", "Adam, no optimizer step",
]  # fmt: skip


def measure(variant: str) -> float:
    sys.path.insert(0, str(ROOT.parent))
    import handgrad as hg
    from benchmarks import workload

    if workload.fashion_mnist_available():
        X, y = workload.load_fashion_mnist_train()
    else:
        X, y = workload.teacher_data(60_000, 784, 10, np.random.default_rng(0))
    sizes = (784, 256, 128, 10)
    if variant == "GEMM floor":
        return _floor(X, sizes)

    class Pass(hg.Layer):
        def forward(self, x):
            return x

        def backward(self, grad_out):
            return grad_out

    class FreeLoss(hg.CrossEntropyLoss):
        def _forward(self, pred, target):
            self._pred = pred
            return 0.0

        def backward(self):
            return self._pred

    class NoBias(hg.Dense):
        def forward(self, x):
            self._x = x
            return np.dot(x, self.weight.data)

        def _param_grads(self, grad_out):
            np.dot(self._x.T, grad_out, out=self.weight.grad)
            return grad_out

    if variant == "no batch gather":
        from handgrad.train import loop

        gather = loop.BatchGatherer.__call__

        def once(self, idx):
            cached = self.__dict__.get("_once")
            if cached is None or len(cached) != len(idx):
                cached = self._once = gather(self, idx).copy()
            return cached

        loop.BatchGatherer.__call__ = once

    rng = np.random.default_rng(1)
    act = Pass if variant == "no activations" else hg.ReLU
    dense = NoBias if variant == "no biases" else hg.Dense
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(dense(a, b, rng=rng, dtype=np.float32))
        if i < len(sizes) - 2:
            layers.append(act())
    model = hg.Sequential(layers)
    adam = "Adam" in variant
    optimizer = (hg.Adam if adam else hg.SGD)(model.parameters(), lr=1e-6)
    if variant in ("no optimizer step", "Adam, no optimizer step"):
        optimizer.step = lambda: None
    loss = FreeLoss() if variant == "no loss" else hg.CrossEntropyLoss()
    metrics = None if variant == "no metrics" else "auto"
    start = time.process_time()
    model.fit(X, y, loss=loss, optimizer=optimizer, batch_size=128, seed=0, metrics=metrics)
    return time.process_time() - start


def _floor(X: np.ndarray, sizes) -> float:
    """The 8 necessary GEMMs of every step, into preallocated arrays."""
    rng = np.random.default_rng(1)
    W = [rng.standard_normal((a, b)).astype(np.float32) for a, b in itertools.pairwise(sizes)]
    A0 = np.ascontiguousarray(X[:128])
    Z = [np.empty((128, w.shape[1]), np.float32) for w in W]
    dW = [np.empty_like(w) for w in W]
    dA = [np.empty((128, w.shape[0]), np.float32) for w in W]
    start = time.process_time()
    for _ in range(-(-len(X) // 128)):
        np.dot(A0, W[0], out=Z[0])
        np.dot(Z[0], W[1], out=Z[1])
        np.dot(Z[1], W[2], out=Z[2])
        np.dot(Z[1].T, Z[2], out=dW[2])
        np.dot(Z[2], W[2].T, out=dA[2])
        np.dot(Z[0].T, dA[2], out=dW[1])
        np.dot(dA[2], W[1].T, out=dA[1])
        np.dot(A0.T, dA[1], out=dW[0])
    return time.process_time() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeats):
        for variant in VARIANTS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            times[variant].append(json.loads(out.stdout))
    best = {v: min(t) for v, t in times.items()}
    floor = best["GEMM floor"]
    print("| variant | s/epoch (best) | × GEMM floor | what the part costs |")
    print("|---|---|---|---|")
    for variant in VARIANTS:
        full = best["fit, Adam" if "Adam" in variant else "fit"]
        part = "" if variant in ("GEMM floor", "fit", "fit, Adam") else _ms(full - best[variant])
        print(f"| {variant} | {best[variant]:.3f} | {best[variant] / floor:.3f} | {part} |")
    parts = sum(best["fit"] - best[v] for v in [*PARTS, "no optimizer step"])
    remainder = best["fit"] - floor - parts
    print(
        f"\nSGD: {_ms(best['fit'] - floor)} above the floor; the parts above account for "
        f"{_ms(parts)}, the remainder (the loop, the layers' calls and checks) is {_ms(remainder)}."
    )
    adam_step = best["fit, Adam"] - best["Adam, no optimizer step"]
    print(f"Adam: {_ms(best['fit, Adam'] - floor)} above the floor, its step {_ms(adam_step)}.")


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.0f} ms"


if __name__ == "__main__":
    main()
