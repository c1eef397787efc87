"""What the commands print and write once a model is trained or evaluated: the score tables,
class predictions, the model file and the figures."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..explain.plots import confusion_figure, confusion_matrix, learning_curves_figure, save_png
from ..nn.activations import sigmoid, softmax
from ..nn.sequential import Sequential
from .outputs import replaced, write_atomically
from .train import TrainResult


def predicted_classes(logits: np.ndarray, loss: str) -> np.ndarray:
    """Class indices from a classifier's outputs: the largest logit, or ``logit > 0`` (σ > ½)
    for a single binary output."""
    if loss == "bce":
        return (logits[:, 0] > 0).astype(np.int64)
    return logits.argmax(axis=1)


def class_probabilities(logits: np.ndarray, loss: str) -> np.ndarray:
    """One column per class: softmax of the logits, or ``(1 − σ(z), σ(z))`` for binary ones."""
    if loss == "bce":
        p = sigmoid(logits[:, 0])
        return np.stack([1 - p, p], axis=1)
    return softmax(logits)


def loss_targets(y: np.ndarray, loss: str, dtype: np.dtype) -> np.ndarray:
    """Encoded labels or values in the form the model's loss takes."""
    if loss == "cross_entropy":
        return y
    return y.astype(dtype).reshape(len(y), -1)


def format_scores(scores: dict[str, dict[str, float]]) -> str:
    """A table with a row per part (training, validation, test) and a column per figure."""
    keys = list(next(iter(scores.values())))
    width = max(len(name) for name in scores)
    lines = [" " * width + "".join(f"{k:>12}" for k in keys)]
    for name, figures in scores.items():
        lines.append(f"{name:<{width}}" + "".join(f"{figures[k]:>12.4f}" for k in keys))
    return "\n".join(lines)


def write_confusion(path: str, labels: np.ndarray, logits: np.ndarray, card: dict, title: str):
    classes = card["classes"]
    matrix = confusion_matrix(labels, predicted_classes(logits, card["loss"]), len(classes))
    figure = confusion_figure(matrix, classes, title=title)
    write_atomically(path, lambda tmp: save_png(figure, tmp))


def save_model(model: Sequential, path: str, metadata: dict[str, Any]) -> None:
    """``model.save(path, metadata=...)``: the same model always gives the same bytes."""
    model.save(path, metadata=metadata)


def report_training(result: TrainResult) -> None:
    epochs = len(result.history)
    print(f"trained {epochs} epoch{'s' * (epochs != 1)}; in evaluation mode:")
    print(format_scores(result.results))
    test = result.results.get("test")
    if test is not None and "accuracy" in test:
        n = len(result.parts["test"])
        correct = round(test["accuracy"] * n)
        print(f"test accuracy: {test['accuracy']:.2%} ({correct} of {n})")


def save_training_outputs(
    result: TrainResult,
    *,
    model: str | None,
    plot: str | None,
    confusion: str | None,
    existing: dict[str, bool] | None = None,
) -> None:
    """Write the files asked for; ``existing`` says which options name a file that was there
    before (checked before training), so that the output says it was replaced."""
    meta = result.metadata
    existing = existing or {}
    if model is not None:
        save_model(result.model, model, meta)
        print(f"saved the model to {replaced(model, existing.get('--out', False))}")
    if plot is not None:
        title = f"{meta['data']}: layers {layers_text(meta['training']['layers'])}"
        if meta["task"] == "regression":
            title += " (standardised target)"
        figure = learning_curves_figure(result.history, title=title)
        write_atomically(plot, lambda tmp: save_png(figure, tmp))
        print(f"wrote the learning curves to {replaced(plot, existing.get('--plot', False))}")
    if confusion is not None:
        if meta["task"] != "classification":
            print("no confusion matrix: the target is not a class", file=sys.stderr)
            return
        name = next(n for n in ("test", "validation", "training") if n in result.parts)
        part = result.parts[name]
        logits = result.model.predict(part.X, threads=result.threads)
        write_confusion(confusion, part.labels, logits, meta, f"{meta['data']}, {name} rows")
        where = replaced(confusion, existing.get("--confusion", False))
        print(f"wrote the confusion matrix ({name} rows) to {where}")


def layers_text(layers: list[int]) -> str:
    return ",".join(str(w) for w in layers) or "none"
