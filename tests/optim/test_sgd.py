"""SGD against its formula written out step by step (PyTorch: test_oracle_torch.py)."""

import numpy as np
import pytest
from helpers.optim import run

import handgrad as hg


def reference_sgd(grads, w, lr, momentum=0.0, nesterov=False, wd=0.0):
    out, b = [], None
    for g in grads:
        g = g + wd * w
        if momentum:
            b = g.copy() if b is None else momentum * b + g
            g = g + momentum * b if nesterov else b
        w = w - lr * g
        out.append(w)
    return out


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True},
        {"weight_decay": 0.1},
        {"momentum": 0.5, "weight_decay": 0.01, "nesterov": True},
    ],
)
def test_sgd(kw, problem):
    grads, w0 = problem
    got = run(lambda p: hg.SGD(p, lr=0.1, **kw), grads, w0)
    expected = reference_sgd(
        grads,
        w0,
        0.1,
        kw.get("momentum", 0.0),
        kw.get("nesterov", False),
        kw.get("weight_decay", 0.0),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
