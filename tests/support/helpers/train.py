"""Helpers of the callback, schedule and History tests: a small problem, a network, a fit."""

import numpy as np

import handgrad as hg


def problem(rng, n=120):
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def mlp(seed=0):
    rng = np.random.default_rng(seed)
    return hg.Sequential([hg.Dense(3, 8, rng=rng), hg.Tanh(), hg.Dense(8, 2, rng=rng)])


def fit(model, X, y, callbacks, epochs=10, lr=0.1, **kw):
    opt = hg.SGD(model.parameters(), lr=lr)
    return model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=opt,
        epochs=epochs,
        batch_size=16,
        seed=0,
        callbacks=callbacks,
        **kw,
    )
