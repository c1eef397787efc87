"""Where the CNN training step's time goes, part by part: ``python benchmarks/cnn_parts.py``.

The workload of ``benchmarks/cnn.py`` (its model, data, batch and SGD), one thread. Each round
runs ``model.fit`` over ``--steps`` batches twice, in alternating order: once as it is, and once
with a timer around each of the methods the step goes through (the layers' forward and backward
and their parts: the padding, the im2col fill, the forward by flat shifts, the pool's maxima and
masks, the weight gradient, the grid backward (dW by shifts, dX); the loss, the optimizer,
Sequential's dispatch) and around every matrix product the convolutions make. A part's time is
its own, without the parts it calls; what no part covers is ``fit``'s own work per step (the
batch gather, the metrics, the bookkeeping).

Prints, per step: each part's median over the rounds and its best, and the plain fit's median
and best next to the instrumented one (the timers' own cost). The numbers are for comparing parts
with one another and before/after a change in the same conditions, not across machines.

Run:  python benchmarks/cnn_parts.py [--rounds 15] [--steps 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import machine
from benchmarks.cnn import BATCH, data, handgrad_model, one_thread

#: The methods timed on each kind of layer; a missing one is skipped.
LAYER_METHODS = ("forward", "forward_fused", "backward", "backward_fused", "backward_params")
CONV_METHODS = (
    "forward_pooled",
    "backward_pooled",
    "_padded",
    "_fill_pooled",
    "_fill_columns",
    "_weights_and_bias",
    "_forward_by_shifts",
    "_weight_grads",
    "_grid_backward",
)
POOL_METHODS = ("_forward_after_conv", "_first_maxima")


class Timers:
    """Exclusive times: a timer running inside another stops the outer one's clock."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []  # [label, start, time of the parts inside]

    def wrap(self, label: str, fn):
        def timed(*args, **kwargs):
            frame = [label, time.perf_counter(), 0.0]
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - frame[1]
                self._stack.pop()
                self.seconds[label] += elapsed - frame[2]
                if self._stack:
                    self._stack[-1][2] += elapsed

        return timed

    def caller(self) -> str:
        return self._stack[-1][0] if self._stack else "?"


class _TimedNumpy:
    """NumPy as the convolution module sees it, with ``matmul`` timed under its caller's name."""

    def __init__(self, timers: Timers):
        self._timers = timers

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, *args, **kwargs):
        return self._timers.wrap(f"{self._timers.caller()} · GEMM", np.matmul)(*args, **kwargs)


def instrument(model, loss, optimizer, timers: Timers) -> None:
    """Timers on the instances (the class methods stay as they are)."""
    import handgrad.nn.conv as conv_module

    conv_module.np = _TimedNumpy(timers)

    def on(obj, label, names):
        for name in names:
            fn = getattr(obj, name, None)
            if fn is not None:
                setattr(obj, name, timers.wrap(f"{label}.{name}", fn))

    # A timer on a layer's own forward or backward would keep Sequential from fusing it with its
    # neighbours (it takes that for a trace watching the layer): those of fused layers stay.
    fused = {id(x) for after, chain in model._units() if chain for x in (after, *chain)}
    for i, layer in enumerate(model.layers):
        label = f"{i}:{type(layer).__name__}"
        names = LAYER_METHODS + CONV_METHODS + POOL_METHODS
        if id(layer) in fused:
            names = tuple(n for n in names if n not in ("forward", "backward"))
        on(layer, label, names)
    on(model, "Sequential", ("forward", "backward_params"))
    on(loss, "loss", ("forward", "backward"))
    on(optimizer, "optimizer", ("step", "zero_grad"))


def uninstrument() -> None:
    import handgrad.nn.conv as conv_module

    conv_module.np = np


def run(rounds: int, steps: int) -> dict:
    import handgrad as hg

    one_thread()
    X, y = data(steps * BATCH)
    fit = {"epochs": 1, "batch_size": BATCH, "shuffle": False}

    def setup():
        model = handgrad_model()
        optimizer = hg.SGD(model.parameters(), lr=0.01)
        loss = hg.CrossEntropyLoss()
        return model, loss, optimizer

    plain = setup()
    timed = setup()
    timers = Timers()
    instrument(*timed, timers)
    try:
        for model, loss, optimizer in (plain, timed):  # warm up
            model.fit(X, y, loss=loss, optimizer=optimizer, **fit)
        per_round: dict[str, list[float]] = defaultdict(list)
        for r in range(rounds):
            for which in ("plain", "timed") if r % 2 == 0 else ("timed", "plain"):
                model, loss, optimizer = plain if which == "plain" else timed
                timers.seconds.clear()
                start = time.perf_counter()
                model.fit(X, y, loss=loss, optimizer=optimizer, **fit)
                total = time.perf_counter() - start
                per_round[f"fit ({which})"].append(total / steps)
                if which == "timed":
                    for label, s in timers.seconds.items():
                        per_round[label].append(s / steps)
                    covered = sum(timers.seconds.values())
                    per_round["fit's own work per step"].append((total - covered) / steps)
    finally:
        uninstrument()
    return per_round


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args(argv)
    per_round = run(args.rounds, args.steps)
    m = machine.describe()
    print(
        f"CNN step by part, batch {BATCH}, float32, 1 thread, {args.rounds} rounds of "
        f"{args.steps} steps; {m['cpu']}; NumPy {m['numpy']} ({m['numpy_blas']})\n"
    )
    totals = {k: v for k, v in per_round.items() if k.startswith("fit (")}
    parts = {k: v for k, v in per_round.items() if k not in totals}
    width = max(map(len, per_round))
    print(f"{'part':<{width}}  {'median ms':>9}  {'best ms':>7}")
    for label, times in sorted(parts.items(), key=lambda kv: -np.median(kv[1])):
        print(f"{label:<{width}}  {np.median(times) * 1e3:9.2f}  {min(times) * 1e3:7.2f}")
    parts_sum = sum(np.median(v) for v in parts.values())
    print(f"{'sum of the parts (medians)':<{width}}  {parts_sum * 1e3:9.2f}")
    for label, times in totals.items():
        print(f"{label:<{width}}  {np.median(times) * 1e3:9.2f}  {min(times) * 1e3:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
