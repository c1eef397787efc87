"""One training step, formula by formula, with the numbers handgrad computed: ``hg.trace``.

1. The learner's notebook completed: its 3-layer network traced through one SGD step
   (forward 3.99 3.29 2.59 → 5.4552 6.4972 → 7.188368, the error, the loss, every gradient,
   the update).
2. A small classifier on real data, scikit-learn's handwritten digits (8×8 images, 10 classes)
   when scikit-learn is installed, else a synthetic problem: one traced step on a few images
   (its loss and the last layer's backward shown), and the diagnosis before and after training.
3. A broken network: ``hg.diagnose`` finds its dead ReLUs and the gradients that vanish behind
   them.

Run:  python examples/trace_walkthrough.py [--synthetic] [--html PATH]
(``--html`` writes the classifier's trace as one self-contained HTML page.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import handgrad as hg
from handgrad.explain.diagnostics import Diagnosis
from handgrad.explain.entries import render_entries_text
from handgrad.explain.trace import seed_trace


def banner(text: str) -> None:
    print(f"\n{'=' * 20} {text} {'=' * 20}\n")


def load_data(synthetic: bool) -> tuple[str, np.ndarray, np.ndarray]:
    """(name, X, y): the digits scaled to [0, 1], or four Gaussian classes in 64 dimensions."""
    if not synthetic:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            print("scikit-learn is not installed (pip install 'handgrad[datasets]'); ", end="")
            print("using a synthetic problem instead")
        else:
            digits = load_digits()  # shipped with scikit-learn: nothing is downloaded
            return "digits", digits.data / 16.0, digits.target
    rng = np.random.default_rng(0)
    centres = 0.4 * rng.standard_normal((4, 64))
    y = rng.integers(0, 4, 1200)
    return "synthetic", centres[y] + rng.standard_normal((1200, 64)), y


def classifier(n_in: int, n_classes: int) -> hg.Sequential:
    return hg.Sequential([hg.Dense(n_in, 32, rng=0), hg.ReLU(), hg.Dense(32, n_classes, rng=1)])


def part_1_notebook() -> hg.Trace:
    banner("1. The notebook's network, one step of SGD (lr = 0.01)")
    step = seed_trace(lr=0.01)
    print(step)
    return step


def part_2_classifier(synthetic: bool, html: Path | None) -> dict[str, object]:
    name, X, y = load_data(synthetic)
    banner(f"2. A classifier on the {name} data: {X.shape[0]} samples, {X.shape[1]} features")
    perm = np.random.default_rng(1).permutation(len(X))
    X, y = X[perm], y[perm]
    n_test = len(X) // 5
    X_train, y_train, X_test, y_test = X[n_test:], y[n_test:], X[:n_test], y[:n_test]
    n_classes = int(y.max()) + 1
    model = classifier(X.shape[1], n_classes)
    loss = hg.CrossEntropyLoss()

    step = hg.trace(model, X_train[:4], y_train[:4], loss, lr=0.1)
    print(f"One step on 4 samples: L = {step.loss_value:.6f} (log {n_classes} = ", end="")
    print(f"{np.log(n_classes):.6f} would be a uniform guess). The loss, then the last layer:\n")
    last = step.layers[-1][0]
    shown = [
        e for e in step.entries if e.phase == "loss" or (e.phase, e.path) == ("backward", last)
    ]
    print(render_entries_text(shown, max_rows=4, max_cols=6, edge=2))
    if html is not None:
        html.write_text(step.to_html(title=f"One training step on the {name} data"), "utf-8")
        print(f"\n(the whole step, as a web page: {html})")

    print("\nBefore training:")
    before = hg.diagnose(model, X_train, y_train, loss, lr=0.1)
    print(before)
    history = model.fit(
        X_train, y_train, loss=loss, optimizer=hg.SGD(model.parameters(), lr=0.1),
        epochs=15, batch_size=32, seed=0,
    )  # fmt: skip
    accuracy = float((model.predict(X_test).argmax(axis=1) == y_test).mean())
    print(f"\nTrained 15 epochs with SGD(lr=0.1): loss {history.loss[0]:.3f} → ", end="")
    print(f"{history.loss[-1]:.3f}, test accuracy {accuracy:.3f}\n\nAfter training:")
    after = hg.diagnose(model, X_train, y_train, loss, lr=0.1)
    print(after)
    return {"data": name, "step": step, "before": before, "after": after, "accuracy": accuracy}


def part_3_broken(synthetic: bool) -> Diagnosis:
    _, X, y = load_data(synthetic)
    banner("3. A broken network: a hidden layer whose biases start at −20")
    model = classifier(X.shape[1], int(y.max()) + 1)
    model[0].bias.data[...] = -20.0  # far below any pre-activation these inputs give
    diagnosis = hg.diagnose(model, X, y, hg.CrossEntropyLoss(), lr=0.1)
    print(diagnosis)
    print("\nNo unit of layer 1 ever fires, so no gradient reaches layer 0: it cannot learn.")
    return diagnosis


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", action="store_true", help="skip scikit-learn's digits")
    parser.add_argument("--html", type=Path, help="write the classifier's trace as HTML here")
    args = parser.parse_args(argv)
    figures: dict[str, object] = {"seed": part_1_notebook()}
    figures.update(part_2_classifier(args.synthetic, args.html))
    figures["broken"] = part_3_broken(args.synthetic)
    return figures


if __name__ == "__main__":
    main()
