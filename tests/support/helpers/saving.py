"""Helpers of the model-file and checkpoint tests."""

import numpy as np

import handgrad as hg


def network(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    inner = hg.Sequential([hg.Dense(6, 5, rng=rng, dtype=dtype), hg.GELU("tanh")])
    return hg.Sequential(
        [
            hg.Dense(4, 6, rng=rng, dtype=dtype),
            hg.LeakyReLU(0.2),
            hg.Dropout(0.3, rng=1),
            inner,
            hg.Sigmoid(),
            hg.Dense(5, 3, rng=rng, dtype=dtype),
            hg.Softmax(),
        ]
    )


def cnn(dtype=np.float64, seed=0):
    """A network with every layer of the convolution family, batch norm's state included."""
    rng = np.random.default_rng(seed)
    block = hg.Sequential(
        [hg.Conv2D(4, 4, 3, padding="same", rng=rng, dtype=dtype), hg.LayerNorm(4, dtype=dtype)]
    )
    return hg.Sequential(
        [
            hg.Reshape((8, 8, 1)),
            hg.Conv2D(1, 4, 3, padding=1, rng=rng, dtype=dtype),
            hg.BatchNorm(4, dtype=dtype),
            hg.ReLU(),
            hg.MaxPool2D(2),
            hg.Residual(block),
            hg.AvgPool2D(2, 1),
            hg.Flatten(),
            hg.Dense(36, 10, rng=rng, dtype=dtype),
            hg.Reshape((10, 1)),
            hg.Conv1D(1, 2, 3, stride=2, padding=1, rng=rng, dtype=dtype),
            hg.MaxPool1D(2),
            hg.AvgPool1D(1),
            hg.GlobalAvgPool(),
            hg.Dense(2, 3, rng=rng, dtype=dtype),
        ]
    )
