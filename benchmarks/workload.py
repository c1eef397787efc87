"""The reference workload: the data, the network, its initial weights and what one epoch costs.

An MLP 784-256-128-10 with ReLU and softmax cross-entropy, trained for one epoch in mini-batches
of 128 on 60,000 rows of 784 float32 features (Fashion-MNIST when it is installed, otherwise rows
labelled by a fixed random teacher network, so that the loss really falls).

The parent process prepares everything once into a work directory of ``.npy`` files (never
pickles), and every child process loads the same files: the same rows in the same order, the same
initial weights, whatever the contender.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class Spec:
    """What is trained and how; stored as ``spec.json`` in the work directory."""

    layers: tuple[int, ...] = (784, 256, 128, 10)
    batch_size: int = 128
    sgd_lr: float = 0.02  # below the edge of stability, so float32 runs stay comparable
    adam_lr: float = 1e-3
    seed: int = 0
    warmup_rows: int = 1024  # rows trained on (then undone) before the timed epoch
    data: str = "auto"  # Fashion-MNIST when installed, else synthetic
    n_samples: int = 60000
    extra: dict = field(default_factory=dict)

    @property
    def data_bytes(self) -> int:
        """Bytes of the float32 inputs plus int64 labels, the dataset a user would hold."""
        return self.n_samples * (self.layers[0] * 4 + 8)


def flops_per_sample(layers) -> int:
    """Nominal FLOP of one training step per sample: 6·Σ(in·out).

    Per dense layer: 2·in·out for the forward ``X·W``, as much for ``dW = Xᵀ·dZ`` and for
    ``dX = dZ·Wᵀ``. Bias, activation, loss and update are O(in + out) and not counted.
    """
    return 6 * sum(a * b for a, b in itertools.pairwise(layers))


def floor_flops_per_sample(layers) -> int:
    """FLOP of the 8 necessary GEMMs: the nominal count less the first layer's ``dX``, which
    nobody needs (the data have no gradient)."""
    return flops_per_sample(layers) - 2 * layers[0] * layers[1]


# Data ------------------------------------------------------------------------------------------


def load_fashion_mnist_train(directory: Path = FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's 60,000 training images as ``X (60000, 784) float32`` in [0, 1] and labels
    ``y (60000,) int64``, read by ``handgrad.datasets.load_fashion_mnist``."""
    from handgrad.datasets import load_fashion_mnist

    ds = load_fashion_mnist(directory, dtype=np.float32)
    return ds.X_train, ds.y_train.astype(np.int64)


def fashion_mnist_available(directory: Path = FASHION_MNIST_DIR) -> bool:
    return all(
        (Path(directory) / name).is_file()
        for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    )


def teacher_data(
    n: int, n_features: int, n_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``X ~ U[0, 1)`` (like pixels) labelled by a fixed random teacher network.

    Teacher: ``y = argmax(tanh((X − ½)·T₁)·T₂)`` with ``T₁ (n_features, 64)`` scaled so that its
    pre-activations have unit variance (``Var(X − ½) = 1/12``). A student MLP can learn it, so the
    loss falls as it would on real data.
    """
    T1 = rng.standard_normal((n_features, 64)) * np.sqrt(12.0 / n_features)
    T2 = rng.standard_normal((64, n_classes))
    X = rng.random((n, n_features), dtype=np.float32)
    y = np.argmax(np.tanh((X - 0.5) @ T1) @ T2, axis=1)
    return X, y.astype(np.int64)


def make_data(spec: Spec) -> tuple[np.ndarray, np.ndarray, str]:
    """The rows every contender trains on, already in the epoch's order (permuted once here)."""
    rng = np.random.default_rng(spec.seed)
    n_features, n_classes = spec.layers[0], spec.layers[-1]
    use_fashion = spec.data == "fashion-mnist" or (
        spec.data == "auto" and fashion_mnist_available() and (n_features, n_classes) == (784, 10)
    )
    if use_fashion:
        X, y = load_fashion_mnist_train()
        name = "Fashion-MNIST (train)"
    elif spec.data in ("synthetic", "auto"):
        X, y = teacher_data(max(spec.n_samples, 1), n_features, n_classes, rng)
        name = "synthetic, labelled by a random teacher network"
    else:
        raise ValueError(f"data must be 'fashion-mnist', 'synthetic' or 'auto', got {spec.data!r}")
    if spec.n_samples > len(X):
        raise ValueError(f"n_samples={spec.n_samples} is more than the {len(X)} rows of {name}")
    order = rng.permutation(len(X))[: spec.n_samples]
    return np.ascontiguousarray(X[order]), y[order], name


def initial_weights(layers, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-normal weights ``W (in, out) ~ N(0, 2/in)`` and zero biases, in float64: the start of
    every contender (each casts them to its own dtype and layout)."""
    rng = np.random.default_rng([seed, 1])
    return [
        (rng.standard_normal((a, b)) * np.sqrt(2.0 / a), np.zeros(b))
        for a, b in itertools.pairwise(layers)
    ]


# The work directory ------------------------------------------------------------------------------


def prepare(spec: Spec, directory: Path) -> Spec:
    """Write the data and the initial weights into ``directory``; returns the spec, with the
    data's name and the row count filled in."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    X, y, name = make_data(spec)
    spec.extra["data_name"] = name
    np.save(directory / "X_float32.npy", X, allow_pickle=False)
    np.save(directory / "X_float64.npy", X.astype(np.float64), allow_pickle=False)
    np.save(directory / "y.npy", y, allow_pickle=False)
    for i, (W, b) in enumerate(initial_weights(spec.layers, spec.seed)):
        np.save(directory / f"W{i}.npy", W, allow_pickle=False)
        np.save(directory / f"b{i}.npy", b, allow_pickle=False)
    (directory / "spec.json").write_text(json.dumps(asdict(spec)))
    return spec


@dataclass
class Work:
    """What a child process loads from the work directory."""

    spec: Spec
    directory: Path

    @classmethod
    def open(cls, directory: Path) -> Work:
        raw = json.loads((Path(directory) / "spec.json").read_text())
        raw["layers"] = tuple(raw["layers"])
        return cls(Spec(**raw), Path(directory))

    def inputs(self, dtype) -> np.ndarray:
        return np.load(self.directory / f"X_{np.dtype(dtype).name}.npy", allow_pickle=False)

    def labels(self) -> np.ndarray:
        return np.load(self.directory / "y.npy", allow_pickle=False)

    def weights(self, dtype) -> list[tuple[np.ndarray, np.ndarray]]:
        n = len(self.spec.layers) - 1
        return [
            tuple(
                np.load(self.directory / f"{k}{i}.npy", allow_pickle=False).astype(dtype)
                for k in ("W", "b")
            )
            for i in range(n)
        ]


def mean_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy, in float64: one reference formula for every contender's
    initial loss, so that a contender that did not take the initial weights shows at once."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), y]))
