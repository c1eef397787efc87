"""``handgrad demo``: the learner's notebook completed, then a real classifier, end to end.

Part 1 prints the notebook's cells computed by handgrad (a neuron, a layer, a 3-layer forward
pass) and then the whole derivation it stopped short of: the traced training step of its 3-layer
network (forward, error, loss, every gradient, one SGD update;
:func:`handgrad.explain.trace.seed_trace`).
Part 2 trains a classifier on scikit-learn's bundled handwritten digits with a progress bar,
prints its accuracy on the held-out test images and saves the model, its learning curves and its
confusion matrix in the output folder. Nothing is written outside that folder, and inside it only
the files named in :data:`FILES`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..explain import notebook
from ..explain.trace import seed_trace
from .outputs import check_output
from .reports import report_training, save_training_outputs
from .train import TrainSpec, train

#: The files the demo writes in its folder, and nothing else.
FILES = {
    "model": "digits.safetensors",
    "plot": "learning-curves.png",
    "confusion": "confusion-matrix.png",
}
#: The digits classifier: 64 pixels → 128 → 64 → 10 classes, Adam with a cosine schedule.
DIGITS = TrainSpec(
    dataset="digits",
    layers=(128, 64),
    dropout=0.1,
    epochs=30,
    schedule="cosine",
    batch_size=64,
)


def _banner(text: str) -> None:
    print(f"\n{'=' * 8} {text} {'=' * max(8, 80 - len(text))}\n", flush=True)


def notebook_cells() -> None:
    """The notebook's first three cells, computed by handgrad's layers."""
    model, x = notebook.single_neuron(np.random.default_rng(13))
    dense = model[0]
    w, b = dense.weight.data[0, 0], dense.bias.data[0]
    print(f"Cell 1, one neuron: relu({w:.6f} · {x[0, 0]:g} + {b:g}) = {model(x)[0, 0]:.6f}")
    model, x = notebook.layer_of_neurons()
    print(f"Cell 2, a layer of three neurons: relu(W · x + b) = {_row(model(x)[0])}")
    model, x = notebook.forward_network()
    outputs = [_row(model[: 2 * (k + 1)](x)[0]) for k in range(3)]
    print(f"Cell 3, a 5 → 3 → 2 → 1 network: {' → '.join(outputs)}")


def _row(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.7g}" for v in values) + "]"


def prepare_folder(folder: str) -> Path:
    """Create ``folder`` if needed; refuse a path that is a file."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--out-dir {folder!r} is a file, expected a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(args: argparse.Namespace) -> int:
    folder = prepare_folder(args.out_dir)
    paths = {key: os.path.join(folder, name) for key, name in FILES.items()}
    existing = {
        f"--{key}": check_output(path, f"--out-dir {args.out_dir!r}: {FILES[key]}")
        for key, path in paths.items()
    }
    existing["--out"] = existing.pop("--model")

    _banner("1. The learner's notebook, computed by handgrad")
    notebook_cells()
    print(
        "\nCell 4, the 3-layer network the notebook stopped at its error, completed: the loss, "
        "every gradient and one update, each formula with its numbers.\n"
    )
    print(seed_trace(lr=0.01).to_text(), end="", flush=True)

    _banner("2. A classifier for handwritten digits")
    spec = replace(DIGITS, epochs=args.epochs, seed=args.seed, verbose=args.verbose)
    widths = " → ".join(str(w) for w in (64, *spec.layers, 10))
    print(
        f"A network of {widths} neurons, ReLU and dropout {spec.dropout} after each hidden layer, "
        f"trained with Adam and a cosine schedule for {spec.epochs} epochs on scikit-learn's 8×8 "
        f"images of handwritten digits (seed {spec.seed})."
    )
    result = train(spec, on_data=lambda line: print(line, flush=True))
    report_training(result)
    save_training_outputs(result, **paths, existing=existing)
    command, activate = command_name()
    model, step = shlex.quote(paths["model"]), shlex.quote(os.path.join(folder, "step.html"))
    print(
        f"\nEverything is in {folder}/. Try, from this folder in any shell:\n"
        f"  {command} summary {model}\n"
        f"  {command} evaluate {model} --dataset digits\n"
        f"  {command} trace {model} --dataset digits --row 1 --format html --out {step}"
        + (f"\n(or run '{activate}' once, and then 'handgrad …')" if activate else "")
    )
    return 0


def command_name() -> tuple[str, str | None]:
    """How a new shell in this folder runs this handgrad, and how to put it on the PATH.

    In a virtual environment (``make demo``'s ``.venv``) a new shell does not have the command on
    its PATH: the script beside this Python is named by its path (relative to this folder when
    it is inside it), with the environment's ``activate`` as the other way. Installed elsewhere,
    ``handgrad`` is named alone when the PATH finds this very script.
    """
    script = Path(sys.executable).parent / "handgrad"
    if not script.is_file():
        return f"{shlex.quote(_shown(Path(sys.executable)))} -m handgrad", None
    in_venv = sys.prefix != sys.base_prefix
    found = shutil.which("handgrad")
    if not in_venv and found is not None and os.path.samefile(found, script):
        return "handgrad", None
    activate = script.parent / "activate"
    hint = f"source {shlex.quote(_shown(activate))}" if activate.is_file() else None
    return shlex.quote(_shown(script)), hint


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it, else absolute."""
    here = Path.cwd()
    try:
        return str(path.relative_to(here))
    except ValueError:
        return str(path)
