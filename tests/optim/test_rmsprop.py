"""RMSprop against its formula written out step by step (PyTorch: test_oracle_torch.py)."""

import numpy as np
import pytest
from helpers.optim import run

import handgrad as hg


def reference_rmsprop(grads, w, lr, alpha, eps, wd=0.0, momentum=0.0, centered=False):
    out, v, gavg, b = [], 0 * w, 0 * w, 0 * w
    for g in grads:
        g = g + wd * w
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            d = np.sqrt(v - gavg * gavg) + eps
        else:
            d = np.sqrt(v) + eps
        if momentum:
            b = momentum * b + g / d
            w = w - lr * b
        else:
            w = w - lr * g / d
        out.append(w)
    return out


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"centered": True},
        {"momentum": 0.9},
        {"weight_decay": 0.1, "alpha": 0.9},
        {"centered": True, "momentum": 0.5},
    ],
)
def test_rmsprop(kw, problem):
    grads, w0 = problem
    got = run(lambda p: hg.RMSprop(p, lr=0.01, **kw), grads, w0)
    expected = reference_rmsprop(
        grads,
        w0,
        0.01,
        kw.get("alpha", 0.99),
        1e-8,
        kw.get("weight_decay", 0.0),
        kw.get("momentum", 0.0),
        kw.get("centered", False),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
