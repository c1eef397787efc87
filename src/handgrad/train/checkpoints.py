"""Checkpoints: everything a run needs to continue exactly, and the callback that writes them.

A checkpoint is a model file (:mod:`handgrad.saving.model_files`) of format
``handgrad.checkpoint`` (the weights and the layers' state arrays, such as batch norm's running
statistics) whose metadata adds ``training``, JSON: the next epoch, the optimizer's
hyper-parameters and step count, the random states of the shuffling and of every random layer,
and the state of each callback that is ``in_checkpoint``. Its tensors add the optimizer's state
arrays (``optimizer.<group>.<state>``) and the callbacks' arrays (``callback.<i>.<key>.<j>``).
``fit(..., resume_from=path)`` reads it back, so the final weights equal those of a run that
never stopped. Writing is atomic, as for model files.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .._validation import check_int
from ..errors import ModelFileError
from ..nn.layer import Layer
from ..saving import model_files, safetensors
from .run import Callback, TrainingRun


class Checkpoint(Callback):
    """Write a checkpoint (weights, optimizer state, epoch, random state, history) at the end of
    every ``every``-th epoch, atomically, so that ``fit(..., resume_from=path)`` continues the run
    bit-identically. With ``save_best_only``, only epochs that improve ``monitor`` are written.
    In distributed training rank 0 alone writes it.
    """

    rank_zero_only = True

    def __init__(
        self,
        path: str | os.PathLike,
        every: int = 1,
        save_best_only: bool = False,
        monitor: str | None = None,
    ):
        self.path = os.fspath(path)
        self.every = check_int(every, "every", minimum=1)
        self.save_best_only = bool(save_best_only)
        self.monitor = monitor
        self.best: float | None = None

    def on_train_begin(self, run: TrainingRun) -> None:
        if self.monitor is None:
            self.monitor = "val_loss" if run.has_validation else "loss"

    def on_epoch_end(self, run: TrainingRun) -> None:
        if (run.epoch + 1) % self.every:
            return
        if self.save_best_only:
            value = run.logs.get(self.monitor)
            if value is None:
                raise ValueError(f"Checkpoint monitors {self.monitor!r}, which fit does not log")
            sign = -1.0 if run.higher_is_better(self.monitor) else 1.0
            if self.best is not None and sign * (value - self.best) >= 0:
                return
            self.best = value
        save_checkpoint(self.path, run)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


def save_checkpoint(path: str | os.PathLike, run: TrainingRun) -> None:
    """Write everything ``fit(..., resume_from=path)`` needs to continue ``run`` exactly."""
    model, optimizer = run.model, run.optimizer
    tensors = model_files.model_tensors(model)  # the parameters and the layers' state
    opt_state = optimizer.state_dict()
    groups = []
    for g, arrays in enumerate(opt_state["state"]):
        groups.append(sorted(arrays))
        for key, value in arrays.items():
            tensors[f"optimizer.{g}.{key}"] = value
    callbacks = []
    for i, cb in enumerate(c for c in run.callbacks if c.in_checkpoint):
        state = {}
        for key, value in cb.state_dict().items():
            arrays = _as_array_list(value)
            if arrays is None:
                state[key] = value
            else:
                for j, a in enumerate(arrays):
                    tensors[f"callback.{i}.{key}.{j}"] = a
                state[key] = {"__arrays__": len(arrays)}
        callbacks.append({"type": type(cb).__name__, "state": state})
    training = {
        "epoch": run.epoch + 1,
        "epochs": run.epochs,
        "batch_size": run.batch_size,
        "n_samples": run.n_samples,
        "optimizer": {
            "type": opt_state["type"],
            "hyperparameters": opt_state["hyperparameters"],
            "t": opt_state["t"],
            "groups": groups,
        },
        "rng": run.rng.bit_generator.state,
        "layer_rngs": {name: g.bit_generator.state for name, g in model.generators()},
        "callbacks": callbacks,
    }
    header = model_files.model_header(model, model_files.CHECKPOINT_FORMAT, None)
    header["training"] = json.dumps(training)
    safetensors.write(path, tensors, header)


def _as_array_list(value) -> list[np.ndarray] | None:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        return list(value)
    return None


def read_checkpoint(path: str | os.PathLike) -> tuple[Layer, dict[str, np.ndarray], dict]:
    """``(model, tensors, training state)`` from a checkpoint file."""
    model, tensors, meta = model_files.read(path)
    path = os.fspath(path)
    if meta["format"] != model_files.CHECKPOINT_FORMAT:
        raise ModelFileError(f"{path!r} is a model file, not a training checkpoint")
    training = model_files.json_field(meta, "training", path)
    if not isinstance(training, dict):
        raise ModelFileError(f"{path!r}: training state must be a JSON object")
    return model, tensors, training


def restore_checkpoint(path: str | os.PathLike, run: TrainingRun) -> int:
    """Put a checkpoint's state into ``run`` (model, optimizer, random state, history, callbacks)
    and return the epoch to continue from."""
    path = os.fspath(path)
    saved, tensors, training = read_checkpoint(path)
    if model_files.architecture(saved) != model_files.architecture(run.model):
        raise ValueError(
            f"checkpoint {path!r} was written for a different network: "
            f"{' → '.join(repr(layer) for _, layer in saved.leaves())}"
        )
    try:
        for (_, p), (_, q) in zip(run.model.named_parameters(), saved.named_parameters()):
            p.data[...] = q.data
        for (_, s), (_, t) in zip(run.model.named_state(), saved.named_state()):
            s.data[...] = t.data  # batch norm's running statistics
        opt = training["optimizer"]
        state = [
            {key: tensors[f"optimizer.{g}.{key}"] for key in keys}
            for g, keys in enumerate(opt["groups"])
        ]
        run.optimizer.load_state_dict(
            {"type": opt["type"], "hyperparameters": opt["hyperparameters"], "t": opt["t"],
             "state": state}
        )  # fmt: skip
        _set_generator(run.rng, training["rng"], "the shuffling generator")
        layer_states = training["layer_rngs"]
        generators = dict(run.model.generators())
        if set(layer_states) != set(generators):
            raise ValueError(
                f"the checkpoint has random generators for layers {sorted(layer_states)}, "
                f"this network for {sorted(generators)}"
            )
        for name, g in generators.items():
            _set_generator(g, layer_states[name], f"layer {name}'s generator")
        callbacks = [c for c in run.callbacks if c.in_checkpoint]
        kinds = [type(c).__name__ for c in callbacks]
        saved_kinds = [c["type"] for c in training["callbacks"]]
        if kinds != saved_kinds:
            raise ValueError(
                f"checkpoint {path!r} was written with callbacks {saved_kinds}, "
                f"this fit has {kinds}; resume with the same callbacks"
            )
        for i, (cb, entry) in enumerate(zip(callbacks, training["callbacks"])):
            state = {}
            for key, value in entry["state"].items():
                if isinstance(value, dict) and set(value) == {"__arrays__"}:
                    value = [tensors[f"callback.{i}.{key}.{j}"] for j in range(value["__arrays__"])]
                state[key] = value
            cb.load_state_dict(state)
        epoch = int(training["epoch"])
    except (KeyError, TypeError, IndexError) as exc:
        raise ModelFileError(f"{path!r}: incomplete training state ({exc!r})") from exc
    if training.get("batch_size") != run.batch_size or training.get("n_samples") != run.n_samples:
        raise ValueError(
            f"checkpoint {path!r} was written for batch_size={training.get('batch_size')} and "
            f"{training.get('n_samples')} training samples; this fit has batch_size="
            f"{run.batch_size} and {run.n_samples}"
        )
    return epoch


def _set_generator(generator: np.random.Generator, state: Any, what: str) -> None:
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"the checkpoint's state of {what} is not valid: {exc}") from exc
