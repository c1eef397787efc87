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
