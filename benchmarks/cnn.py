"""The convolutional network's training step against PyTorch and the GEMM floor, and its memory.

Workload (the convolution issue's): Conv(1→16, 3×3, pad 1) ReLU MaxPool2 → Conv(16→32, 3×3,
pad 1) ReLU MaxPool2 → Dense(1568→128) ReLU → Dense(128→10), on 28×28×1 float32 images
(Fashion-MNIST when installed, otherwise uniform noise with random labels: the time does not
depend on the values), batch 128, softmax cross-entropy, plain SGD, one thread.

Contenders, timed in one process, interleaved round by round (each round runs every contender
once on ``--steps`` steps, in a rotating order), so that a slow moment of a shared machine falls
on all of them alike:

* ``handgrad``: ``model.fit`` over ``steps`` batches (channels-last); the time per step is the
  fit's time divided by the steps, so the gather, the loss, the metrics and the epoch's
  bookkeeping are counted;
* ``torch_nchw``: PyTorch 2's CPU step in its default layout, a manual loop
  (``zero_grad``, forward, ``cross_entropy``, ``backward``, ``SGD.step``) over the same batches;
* ``torch_channels_last``: the same with the model and the batches in channels_last memory
  format;
* ``gemm_floor``: the 11 matrix products of the im2col formulation and nothing else (conv1's
  forward and dW, conv2's forward, dW and its input gradient as one product, the dense layers'
  three each but the first dense layer's input gradient, which a CNN needs): 907 MFLOP a step.

The goals: handgrad ≤ 1.0× torch_nchw, ≤ 1.4× torch_channels_last, ≤ 1.8× gemm_floor; ratios
of the medians, and of the best rounds, per step.

Memory, each in a fresh process (``--memory``): the resident memory training adds at batch 128
(peak during 30 steps of fit over the resident set before, data and model already built; goal
≤ 96 MB); whether steady-state training allocates anything new per step (the memory traced by
tracemalloc after step 10 and after step 60); and ``predict``'s peak on 2,000 and on 20,000 rows
beyond its input and output (it must not grow with the rows).

Run:  python benchmarks/cnn.py [--rounds 15] [--steps 10] [--quick]
Writes benchmarks/results/cnn.json and cnn.md (``--quick``: results/quick/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import machine
from benchmarks.timing import current_rss_bytes, peak_rss_bytes

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 128
GOALS = {"torch_nchw": 1.0, "torch_channels_last": 1.4, "gemm_floor": 1.8}
MEMORY_GOAL_MB = 96


def one_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``(n, 28, 28, 1)`` float32 in [0, 1] and labels: Fashion-MNIST's first rows
    when installed, else noise."""
    try:
        from handgrad.datasets import load_fashion_mnist

        ds = load_fashion_mnist(images=True)
        reps = -(-n // len(ds.X_train))
        return np.tile(ds.X_train, (reps, 1, 1, 1))[:n], np.tile(ds.y_train, reps)[:n]
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def handgrad_model():
    import handgrad as hg

    f32 = np.float32
    return hg.Sequential(
        [
            hg.Conv2D(1, 16, 3, padding=1, rng=0, dtype=f32),
            hg.ReLU(),
            hg.MaxPool2D(2),
            hg.Conv2D(16, 32, 3, padding=1, rng=1, dtype=f32),
            hg.ReLU(),
            hg.MaxPool2D(2),
            hg.Flatten(),
            hg.Dense(1568, 128, rng=2, dtype=f32),
            hg.ReLU(),
            hg.Dense(128, 10, rng=3, dtype=f32),
        ]
    )


def torch_model(model, channels_last: bool):
    """PyTorch's twin of the handgrad model, from the same weights; its Flatten sees (c, h, w)
    where handgrad's sees (h, w, c), so the first Dense's rows are permuted to match."""
    import torch

    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(1568, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10),
    )  # fmt: skip
    with torch.no_grad():
        for i in (0, 3):
            net[i].weight.copy_(torch.from_numpy(model[i].weight.data.transpose(3, 2, 0, 1).copy()))
            net[i].bias.copy_(torch.from_numpy(model[i].bias.data))
        W = model[7].weight.data.reshape(7, 7, 32, 128).transpose(2, 0, 1, 3).reshape(1568, 128)
        net[7].weight.copy_(torch.from_numpy(W.T.copy()))
        net[7].bias.copy_(torch.from_numpy(model[7].bias.data))
        net[9].weight.copy_(torch.from_numpy(model[9].weight.data.T.copy()))
        net[9].bias.copy_(torch.from_numpy(model[9].bias.data))
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


class GemmFloor:
    """The step's 11 matrix products, on preallocated float32 operands."""

    def __init__(self, rng):
        f = np.float32
        M1, M2 = BATCH * 28 * 28, BATCH * 14 * 14

        def a(*shape):
            return rng.standard_normal(shape).astype(f)

        self.products = [
            (a(M1, 9), a(9, 16), np.empty((M1, 16), f)),  # conv1 forward
            (a(9, M1), a(M1, 16), np.empty((9, 16), f)),  # conv1 dW
            (a(M2, 144), a(144, 32), np.empty((M2, 32), f)),  # conv2 forward
            (a(144, M2), a(M2, 32), np.empty((144, 32), f)),  # conv2 dW
            (a(M2, 288), a(288, 16), np.empty((M2, 16), f)),  # conv2 dX
            (a(BATCH, 1568), a(1568, 128), np.empty((BATCH, 128), f)),  # dense1 forward
            (a(1568, BATCH), a(BATCH, 128), np.empty((1568, 128), f)),  # dense1 dW
            (a(BATCH, 128), a(128, 1568), np.empty((BATCH, 1568), f)),  # dense1 dX
            (a(BATCH, 128), a(128, 10), np.empty((BATCH, 10), f)),  # dense2 forward
            (a(128, BATCH), a(BATCH, 10), np.empty((128, 10), f)),  # dense2 dW
            (a(BATCH, 10), a(10, 128), np.empty((BATCH, 128), f)),  # dense2 dX
        ]

    @property
    def flops(self) -> int:
        return sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in self.products)

    def step(self) -> None:
        for a, b, out in self.products:
            np.matmul(a, b, out=out)


def contenders(steps: int):
    """``name → function running `steps` training steps``, every one from the same start."""
    import torch

    import handgrad as hg

    X, y = data(steps * BATCH)
    model = handgrad_model()
    optimizer = hg.SGD(model.parameters(), lr=0.01)
    loss = hg.CrossEntropyLoss()

    def run_handgrad():
        model.fit(X, y, loss=loss, optimizer=optimizer, epochs=1, batch_size=BATCH, shuffle=False)

    runs = {"handgrad": run_handgrad}
    for name, channels_last in (("torch_nchw", False), ("torch_channels_last", True)):
        net = torch_model(model, channels_last)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        Xt = torch.from_numpy(X.transpose(0, 3, 1, 2).copy())
        batches = [
            (Xt[i : i + BATCH].contiguous(memory_format=fmt), torch.from_numpy(y[i : i + BATCH]))
            for i in range(0, len(X), BATCH)
        ]

        def run_torch(net=net, opt=opt, batches=batches):
            for xb, yb in batches:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xb), yb).backward()
                opt.step()

        runs[name] = run_torch
    floor = GemmFloor(np.random.default_rng(0))

    def run_floor():
        for _ in range(steps):
            floor.step()

    runs["gemm_floor"] = run_floor
    return runs, floor.flops


def guard() -> dict:
    """The first step's loss in handgrad and in PyTorch (both layouts), from the same weights
    and batch: the contenders compute the same thing."""
    import torch

    import handgrad as hg

    X, y = data(BATCH)
    model = handgrad_model()
    ours = hg.CrossEntropyLoss().forward(model.forward(X), y)
    out = {"handgrad": ours}
    for name, channels_last in (("torch_nchw", False), ("torch_channels_last", True)):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        xb = torch.from_numpy(X.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=fmt)
        theirs = torch.nn.functional.cross_entropy(
            torch_model(model, channels_last)(xb), torch.from_numpy(y)
        )
        out[name] = float(theirs)
    out["passed"] = all(abs(v - ours) <= 1e-4 * abs(ours) for v in out.values() if v != ours)
    return out


def time_steps(rounds: int, steps: int) -> dict:
    one_thread()
    runs, flops = contenders(steps)
    for run in runs.values():  # warm up: buffers, caches, one-time allocations
        run()
    names = list(runs)
    per_step: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            runs[name]()
            per_step[name].append((time.perf_counter() - start) / steps)
    out = {"flops_per_step_gemm_floor": flops, "per_step_seconds": per_step, "ratios": {}}
    hg = np.array(per_step["handgrad"])
    for name in names[1:]:
        other = np.array(per_step[name])
        out["ratios"][name] = {
            "median": float(np.median(hg) / np.median(other)),
            "best": float(hg.min() / other.min()),
            # each round's ratio: the two ran back to back
            "median_of_rounds": float(np.median(hg / other)),
        }
    return out


# Memory, in child processes ---------------------------------------------------------------------


def _reset_peak() -> bool:
    """Reset the kernel's peak resident set (VmHWM) of this process, where Linux allows."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_training() -> dict:
    import tracemalloc

    import handgrad as hg

    one_thread()
    X, y = data(60 * BATCH)
    model = handgrad_model()
    optimizer = hg.SGD(model.parameters(), lr=0.01)
    loss = hg.CrossEntropyLoss()
    before = current_rss_bytes()
    reset = _reset_peak()
    model.fit(X[: 30 * BATCH], y[: 30 * BATCH], loss=loss, optimizer=optimizer, batch_size=BATCH)
    added = peak_rss_bytes() - before
    # Steady state: the memory of NumPy's arrays (its tracemalloc domain) held after step 10
    # and after step 60 of one fit, and all the memory traced, Python's objects included.
    traced: dict[int, tuple[int, int]] = {}
    arrays = tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)

    class Watch(hg.Callback):
        def on_batch_end(self, run):
            if run.batch + 1 in (10, 60):
                numpy_bytes = sum(
                    t.size for t in tracemalloc.take_snapshot().filter_traces([arrays]).traces
                )
                traced[run.batch + 1] = (numpy_bytes, tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    model.fit(X, y, loss=loss, optimizer=optimizer, batch_size=BATCH, callbacks=[Watch()])
    tracemalloc.stop()
    return {
        "training_added_mb": added / 2**20,
        "peak_reset": reset,
        "numpy_after_step_10_mb": traced[10][0] / 2**20,
        "numpy_growth_from_step_10_to_60_bytes": traced[60][0] - traced[10][0],
        "all_growth_from_step_10_to_60_bytes": traced[60][1] - traced[10][1],
    }


def memory_predict(rows: int) -> dict:
    one_thread()
    X, _ = data(rows)
    model = handgrad_model()
    model.predict(X[:BATCH])  # every buffer of a chunk exists once before the measure
    before = current_rss_bytes()
    _reset_peak()
    out = model.predict(X)
    added = peak_rss_bytes() - before
    return {"rows": rows, "added_mb": added / 2**20, "output_mb": out.nbytes / 2**20}


def child(mode: str, *args: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"CNN training step, batch {BATCH}, float32, 1 thread: {report['rounds']} interleaved "
        f"rounds of {report['steps']} steps. {m['cpu']}, {m['cores']} cores; NumPy {m['numpy']} "
        f"({m['numpy_blas']}), PyTorch {m['torch']}; {m['date']}. Load average "
        f"{report['load_average'][0]:.1f} → {report['load_average'][1]:.1f}.",
        "",
        "| contender | ms per step (median) | best | handgrad ÷ it (medians) | (best) | "
        "(median of rounds) | goal |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    t = report["timing"]
    for name, times in t["per_step_seconds"].items():
        ratio = t["ratios"].get(name)
        cells = (
            ["", "", "", ""]
            if ratio is None
            else [
                f"{ratio['median']:.2f}×",
                f"{ratio['best']:.2f}×",
                f"{ratio['median_of_rounds']:.2f}×",
                f"≤ {GOALS[name]}× {'met' if ratio['median'] <= GOALS[name] else 'not met'}",
            ]
        )
        lines.append(
            f"| {name} | {np.median(times) * 1e3:.1f} | {min(times) * 1e3:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    mem = report.get("memory")
    if mem:
        tr = mem["training"]
        lines += [
            "",
            f"Memory: training adds {tr['training_added_mb']:.0f} MB of resident memory at batch "
            f"{BATCH} (goal ≤ {MEMORY_GOAL_MB} MB); from step 10 to step 60 of a fit the memory "
            f"of NumPy's arrays ({tr['numpy_after_step_10_mb']:.1f} MB) grows by "
            f"{tr['numpy_growth_from_step_10_to_60_bytes']} bytes, and all the memory traced, "
            f"Python's objects included, by {tr['all_growth_from_step_10_to_60_bytes']} bytes. "
            "predict adds "
            + ", ".join(
                f"{p['added_mb']:.0f} MB on {p['rows']:,} rows (its output: "
                f"{p['output_mb']:.1f} MB)"
                for p in mem["predict"]
            )
            + ".",
        ]
    g = report["guard"]
    lines += [
        "",
        f"Guard: the first batch's loss is {g['handgrad']:.6f} in handgrad, "
        f"{g['torch_nchw']:.6f} and {g['torch_channels_last']:.6f} in PyTorch "
        f"({'same to 1e-4' if g['passed'] else 'NOT THE SAME'}).",
        "",
        f"`{report['command']}`",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="3 rounds of 3 steps, small memory runs")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        mode, *rest = args.child
        result = memory_training() if mode == "train" else memory_predict(int(rest[0]))
        print(json.dumps(result))
        return 0
    rounds, steps = (3, 3) if args.quick else (args.rounds, args.steps)
    load = [os.getloadavg()[0]]
    report = {
        "machine": machine.describe(),
        "rounds": rounds,
        "steps": steps,
        "command": "python benchmarks/cnn.py" + (" --quick" if args.quick else ""),
        "guard": guard(),
        "timing": time_steps(rounds, steps),
    }
    if not args.no_memory:
        sizes = (512, 2048) if args.quick else (2000, 20000)
        report["memory"] = {
            "training": child("train"),
            "predict": [child("predict", str(n)) for n in sizes],
        }
    load.append(os.getloadavg()[0])
    report["load_average"] = load
    folder = RESULTS / "quick" if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cnn.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (folder / "cnn.md").write_text(text)
    print(text)
    return 0 if report["guard"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
