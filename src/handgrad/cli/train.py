"""What ``handgrad train`` (and the demo) do: build a network from a few choices, train it on
standardised features, and measure it.

The randomness of a run comes from one seed: ``SeedSequence(seed)`` is split into independent
streams for the validation split, the initial weights, the dropout masks and the order of the
batches, so the same command with the same seed writes the same model file, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..datasets.splits import held_out_count, split_indices
from ..distributed import shard
from ..nn import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dense,
    Dropout,
    Layer,
    Loss,
    MSELoss,
    Sequential,
)
from ..nn.layer import activations
from ..optim import SGD, Adam, AdamW, Optimizer, RMSprop
from ..train import Checkpoint, CosineLR, EarlyStopping, History, WarmupLR
from . import layer_spec
from .data import CLI_FORMAT, CsvOptions, Standardizer, TrainingData, load_training_data

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
}
#: The learning rate each optimizer gets when --lr is not given.
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainSpec:
    """Everything a training run is made of, as ``handgrad train``'s options say it."""

    data: str | None = None
    dataset: str | None = None
    target: str | None = None
    task: str = "auto"
    ignore: tuple[str, ...] = ()
    layers: tuple[int | str, ...] = (128, 64)
    activation: str = "relu"
    dropout: float = 0.0
    loss: str | None = None
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.0
    weight_decay: float = 0.0
    epochs: int = 20
    batch_size: int = 64
    val_split: float = 0.1
    early_stopping: int | None = None
    gradient_clip: float | None = None
    schedule: str = "constant"
    warmup: int = 0
    seed: int = 0
    dtype: str = "float32"
    limit: int | None = None
    checkpoint: str | None = None
    resume: str | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    verbose: int = 1
    distributed: bool = False
    threads: int = 1

    def hyperparameters(self) -> dict[str, Any]:
        """The choices that shape the model, for its metadata (no paths: where files go does not
        change what is learned)."""
        return {
            "ignore": list(self.ignore),
            "layers": list(self.layers),
            "activation": self.activation,
            "dropout": self.dropout,
            "optimizer": self.optimizer,
            "lr": self.learning_rate,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "val_split": self.val_split,
            "early_stopping": self.early_stopping,
            "gradient_clip": self.gradient_clip,
            "schedule": self.schedule,
            "warmup": self.warmup,
            "seed": self.seed,
            "dtype": self.dtype,
            "limit": self.limit,
        }

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr


@dataclass
class Split:
    """Standardised features and the targets in the form the loss takes, for one part."""

    X: np.ndarray
    y: np.ndarray
    labels: np.ndarray | None  # class indices, for the confusion matrix

    def __len__(self) -> int:
        return len(self.X)


@dataclass
class TrainResult:
    model: Sequential
    history: History
    metadata: dict[str, Any]
    parts: dict[str, Split]
    loss: Loss
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    threads: int = 1  # the BLAS threads of the run, for the predictions made after it


def default_loss(task: str) -> str:
    return "cross_entropy" if task == "classification" else "mse"


def check_loss(loss: str, ds: TrainingData) -> None:
    """Refuse a loss that cannot learn this data set's target."""
    if ds.task == "classification" and loss == "mse":
        raise ValueError(
            f"--loss mse is for regression, but the target {ds.target_name!r} holds "
            f"{len(ds.classes)} classes; use --loss cross_entropy (or --task regression)"
        )
    if ds.task == "regression" and loss != "mse":
        raise ValueError(
            f"--loss {loss} is for classification, but the target {ds.target_name!r} holds "
            "numbers; use --loss mse (or --task classification)"
        )
    if loss == "bce" and len(ds.classes) != 2:
        raise ValueError(
            f"--loss bce needs two classes, the target {ds.target_name!r} has {len(ds.classes)}; "
            "use --loss cross_entropy"
        )


def check_classes(ds: TrainingData, y: np.ndarray) -> None:
    """A classifier needs two classes among its training rows."""
    present = np.unique(y)
    if len(present) < 2:
        label = ds.classes[present[0]].item() if len(present) else None
        raise ValueError(
            f"the target {ds.target_name!r} holds one class, {label!r}, in all {len(y)} training "
            "rows: a classifier needs at least two (is it the right column? for numbers, "
            "--task regression)"
        )


def check_target_range(ds: TrainingData, y: np.ndarray, dtype: np.dtype) -> None:
    """Regression targets whose squares fit ``dtype``: the saved model predicts and scores them
    in their own unit, and the loss squares their errors."""
    info = np.finfo(dtype)
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak > np.sqrt(info.max) / 2:
        advice = " or use --dtype float64" if dtype == np.float32 else ""
        raise ValueError(
            f"the target {ds.target_name!r} reaches {peak:.3g}, too large for {dtype}: the loss "
            f"squares its errors, and squares overflow beyond {info.max:.3g}; rescale the column "
            f"(e.g. to thousands){advice}"
        )


def validation_rows(
    fraction: float, y: np.ndarray, classification: bool, seed: np.random.SeedSequence
) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation rows of a --val-split, stratified by class; a split that
    cannot put every class on both sides says which --val-split would."""
    n = len(y)
    if n < 2:
        raise ValueError(f"--val-split needs at least 2 training rows, the data have {n}")
    rng = np.random.default_rng(seed)
    if not classification:
        return split_indices(n, fraction, rng)
    counts = np.bincount(y)
    both = int((counts >= 2).sum())  # classes that must have rows on both sides
    held = held_out_count(n, fraction)
    if not both <= held <= n - both:
        works = (
            f"a --val-split from {both / n:.3g} to {(n - both) / n:.3g}, or 0 to train on every row"
            if 2 * both <= n
            else "--val-split 0 (too few rows to hold some out)"
        )
        raise ValueError(
            f"--val-split {fraction:g} holds out {held} of the {n} training rows, but each of "
            f"the {both} classes with 2 or more rows needs rows on both sides, so each side needs "
            f"at least {both} rows: use {works}"
        )
    return split_indices(n, fraction, rng, y)


def build_network(
    n_in: int,
    hidden: tuple[int, ...],
    n_out: int,
    activation: str,
    dropout: float,
    dtype: np.dtype,
    seeds: np.random.SeedSequence,
) -> Sequential:
    """``Dense → activation [→ Dropout]`` for each hidden width, then a ``Dense`` to ``n_out``.

    Hidden layers start from the initialiser suited to ``activation``; the output layer, which
    feeds a loss rather than an activation, from Glorot's uniform one.
    """
    act = activations()[activation]
    init = act.default_init  # the initialiser that keeps the variance steady through it
    weight_seeds, dropout_seeds = seeds.spawn(2)
    weight_rngs = [np.random.default_rng(s) for s in weight_seeds.spawn(len(hidden) + 1)]
    dropout_rngs = [np.random.default_rng(s) for s in dropout_seeds.spawn(len(hidden))]
    layers: list[Layer] = []
    width = n_in
    for i, h in enumerate(hidden):
        layers += [Dense(width, h, init=init, rng=weight_rngs[i], dtype=dtype), act()]
        if dropout:
            layers.append(Dropout(dropout, rng=dropout_rngs[i]))
        width = h
    layers.append(Dense(width, n_out, init="glorot_uniform", rng=weight_rngs[-1], dtype=dtype))
    return Sequential(layers)


def make_loss(name: str) -> Loss:
    return {"cross_entropy": CrossEntropyLoss, "bce": BCEWithLogitsLoss, "mse": MSELoss}[name]()


def make_optimizer(spec: TrainSpec, model: Sequential) -> Optimizer:
    kwargs: dict[str, Any] = {"lr": spec.learning_rate, "weight_decay": spec.weight_decay}
    if spec.optimizer in ("sgd", "rmsprop"):
        kwargs["momentum"] = spec.momentum
    elif spec.momentum:
        raise ValueError(f"--momentum is for sgd and rmsprop, not {spec.optimizer}")
    return OPTIMIZERS[spec.optimizer](model.parameters(), **kwargs)


def make_callbacks(spec: TrainSpec, has_validation: bool) -> list:
    """The schedule, early stopping and checkpoint, always in this order (a resumed run must
    have the callbacks of the run that wrote its checkpoint)."""
    callbacks: list = []
    cosine = CosineLR(max(spec.epochs - spec.warmup, 1)) if spec.schedule == "cosine" else None
    if spec.warmup:
        callbacks.append(WarmupLR(spec.warmup, then=cosine))
    elif cosine is not None:
        callbacks.append(cosine)
    if spec.early_stopping is not None:
        monitor = "val_loss" if has_validation else "loss"
        callbacks.append(EarlyStopping(monitor=monitor, patience=spec.early_stopping))
    if spec.checkpoint is not None:
        callbacks.append(Checkpoint(spec.checkpoint))
    return callbacks


class TargetCoding:
    """Targets in the form the loss trains on, and back.

    Classification: class indices for cross-entropy, a column of 0/1 for binary cross-entropy.
    Regression: ``y′ = (y − μ_y) / σ_y`` with the training rows' mean and deviation, so that the
    network learns numbers of order 1 whatever the target's unit (see :func:`unscale_output`).
    """

    def __init__(self, loss: str, y_train: np.ndarray, dtype: np.dtype):
        self.loss, self.dtype = loss, dtype
        if loss == "mse":
            y2 = y_train.reshape(len(y_train), -1).astype(np.float64)
            self.scaler = Standardizer.fit(y2)
        else:
            self.scaler = None

    def encode(self, y: np.ndarray) -> np.ndarray:
        if self.loss == "cross_entropy":
            return y
        if self.loss == "bce":
            return y.astype(self.dtype).reshape(-1, 1)
        return self.scaler.transform(y.reshape(len(y), -1), self.dtype)

    def raw(self, y: np.ndarray) -> np.ndarray:
        """Targets as the trained model's loss sees them once its output is unscaled."""
        if self.loss == "mse":
            return y.reshape(len(y), -1).astype(self.dtype)
        return self.encode(y)


def unscale_output(model: Sequential, scaler: Standardizer) -> None:
    """Make the last Dense output the target in its own unit.

    The network was trained to output ``y′ = (y − μ) / σ``; with the last layer ``y′ = A·W + b``,
    ``y = σ ⊙ y′ + μ = A·(W σ) + (b σ + μ)``: each output column of ``W`` and ``b`` is scaled by its
    σ and μ added to ``b``. The product is exact algebra; only rounding differs.
    """
    last = model.layers[-1]
    scale = scaler.scale.astype(last.weight.data.dtype)
    last.weight.data *= scale
    last.bias.data *= scale
    last.bias.data += scaler.mean.astype(last.bias.data.dtype)


def train(spec: TrainSpec, on_data: Callable[[str], None] | None = None) -> TrainResult:
    """Load the data, train the network ``spec`` describes, and measure it on every part.

    ``on_data`` receives a one-line description of the data before training starts.
    """
    dtype = np.dtype(spec.dtype)
    if spec.early_stopping is not None and not spec.val_split:
        raise ValueError(
            "--early-stopping watches the validation loss, but --val-split 0 holds out no rows: "
            "give --val-split (e.g. 0.1), or leave out --early-stopping"
        )
    ds = load_training_data(
        spec.data, spec.dataset, spec.target, spec.task, dtype, spec.ignore, spec.csv
    )
    loss_name = spec.loss or default_loss(ds.task)
    check_loss(loss_name, ds)
    y = ds.y if spec.limit is None else ds.y[: spec.limit]
    classification = ds.task == "classification"
    if classification:
        check_classes(ds, y)
    else:
        check_target_range(ds, y, dtype)
    split_seed, init_seed, fit_seed = np.random.SeedSequence(spec.seed).spawn(3)

    keep = held = None
    if spec.val_split:
        keep, held = validation_rows(spec.val_split, y, classification, split_seed)
    # A CSV file's columns are encoded as the training rows alone say (categories, fills).
    X, encoder = ds.features(len(y), keep)
    X_fit, y_fit = (X, y) if keep is None else (X[keep], y[keep])
    dense = layer_spec.is_dense(spec.layers)
    if dense:
        standardizer = Standardizer.fit(X_fit)
    else:
        # A convolution sees every position alike: images are standardised as a whole, one mean
        # and one scale for every pixel (kept per feature in the model file, as for features).
        std = float(X_fit.std(dtype=np.float64)) or 1.0
        mean = float(X_fit.mean(dtype=np.float64))
        standardizer = Standardizer(np.full(X.shape[1], mean), np.full(X.shape[1], std))
    coding = TargetCoding(loss_name, y_fit, dtype)

    def part(X_part, y_part) -> Split:
        labels = y_part if classification else None
        return Split(standardizer.transform(X_part, dtype), coding.encode(y_part), labels)

    raw = {"training": (X_fit, y_fit)}
    if held is not None:
        raw["validation"] = (X[held], y[held])
    if ds.X_test is not None:
        raw["test"] = (ds.X_test, ds.y_test)
    parts = {name: part(*xy) for name, xy in raw.items()}
    if on_data is not None:
        on_data(_describe_data(ds, X, parts))
        for line in [*ds.notes, *(encoder.report if encoder is not None else ())]:
            on_data(f"  {line}")

    if classification:
        n_out = 1 if loss_name == "bce" else len(ds.classes)
    else:
        n_out = 1 if y.ndim == 1 else y.shape[1]
    try:
        if dense:
            model = build_network(
                X.shape[1], spec.layers, n_out, spec.activation, spec.dropout, dtype, init_seed
            )
        else:
            model = layer_spec.build(
                spec.layers, X.shape[1], ds.row_shape, n_out, spec.activation, spec.dropout,
                dtype, init_seed,
            )  # fmt: skip
    except MemoryError as exc:
        items = ",".join(str(item) for item in spec.layers) or "none"
        raise MemoryError(f"--layers {items}: {exc}") from None
    loss = make_loss(loss_name)
    optimizer = make_optimizer(spec, model)
    validation = parts.get("validation")
    train_X, train_y = parts["training"].X, parts["training"].y
    validation_data = None if validation is None else (validation.X, validation.y)
    distributed = False
    if spec.distributed:
        # Every rank read the same file and derived the same split and standardisation from the
        # same seed; each now trains on its own block of the rows (hg.distributed.shard).
        distributed = True
        rows = shard(len(train_X))
        train_X, train_y = train_X[rows], train_y[rows]
        if validation_data is not None:
            rows = shard(len(validation.X))
            validation_data = (validation.X[rows], validation.y[rows])
    history = model.fit(
        train_X,
        train_y,
        loss=loss,
        optimizer=optimizer,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=np.random.default_rng(fit_seed),
        validation_data=validation_data,
        callbacks=make_callbacks(spec, validation is not None),
        verbose=spec.verbose,
        gradient_clip=spec.gradient_clip,
        resume_from=spec.resume,
        distributed=distributed,
        threads=spec.threads,
    )
    if coding.scaler is not None:
        unscale_output(model, coding.scaler)
        for name, (_, y_part) in raw.items():
            parts[name].y = coding.raw(y_part)

    results = {
        name: model.evaluate(p.X, p.y, loss=loss, threads=spec.threads) for name, p in parts.items()
    }
    metadata = {
        "cli_format": CLI_FORMAT,
        "task": ds.task,
        "loss": loss_name,
        "classes": ds.classes.tolist() if classification else None,
        "feature_names": ds.feature_names if encoder is None else encoder.feature_names,
        "columns": None if encoder is None else encoder.to_json(),
        "target_name": ds.target_name,
        "n_features": int(X.shape[1]),
        "standardize": standardizer.to_json(),
        "data": ds.name,
        "training": {**spec.hyperparameters(), "epochs_run": len(history)},
        "results": results,
    }
    return TrainResult(model, history, metadata, parts, loss, results, spec.threads)


def _describe_data(ds: TrainingData, X: np.ndarray, parts: dict[str, Split]) -> str:
    rows = ", ".join(f"{len(p)} {name}" for name, p in parts.items())
    kind = f"{len(ds.classes)} classes" if ds.task == "classification" else "regression"
    return f"data: {ds.name}, {X.shape[1]} features, {kind}; rows: {rows}"
