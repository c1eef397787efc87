"""Adam and AdamW against their formulas step by step (PyTorch: test_oracle_torch.py)."""

import numpy as np
import pytest
from helpers.optim import run

import handgrad as hg


def reference_adam(grads, w, lr, b1, b2, eps, wd=0.0, decoupled=False, amsgrad=False):
    out, m, v, vmax = [], 0 * w, 0 * w, 0 * w
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - b2**t)
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(vhat) + eps)
        out.append(w)
    return out


@pytest.mark.parametrize(
    "kw", [{}, {"weight_decay": 0.1}, {"amsgrad": True}, {"betas": (0.5, 0.9), "eps": 1e-3}]
)
@pytest.mark.parametrize("cls", [hg.Adam, hg.AdamW])
def test_adam_and_adamw(cls, kw, problem):
    grads, w0 = problem
    kw = {"weight_decay": 0.01, **kw} if cls is hg.AdamW else kw
    got = run(lambda p: cls(p, lr=0.01, **kw), grads, w0)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    expected = reference_adam(
        grads,
        w0,
        0.01,
        b1,
        b2,
        kw.get("eps", 1e-8),
        kw.get("weight_decay", 0.0),
        cls is hg.AdamW,
        kw.get("amsgrad", False),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_adamw_default_weight_decay_is_pytorchs():
    assert hg.AdamW([hg.Parameter([1.0])]).weight_decay == 0.01
    assert hg.Adam([hg.Parameter([1.0])]).weight_decay == 0.0


def test_adam_betas_are_fixed_once_stepping(problem):
    p = hg.Parameter(np.ones(5))
    opt = hg.Adam([p])
    opt.betas = (0.8, 0.99)
    p.grad[...] = problem[0][0]
    opt.step()
    with pytest.raises(ValueError, match="betas cannot change once steps were taken"):
        opt.betas = (0.9, 0.999)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("cls", [hg.Adam, hg.AdamW])
def test_the_update_a_piece_at_a_time_is_the_update_over_the_whole(cls, amsgrad, monkeypatch):
    """Adam works through its arrays in pieces that fit the cache: the same values, bit for bit,
    with pieces that do not divide the arrays; the work array is no part of the state."""
    from handgrad.optim import adam

    def train(chunk_bytes):
        monkeypatch.setattr(adam, "CHUNK_BYTES", chunk_bytes)
        rng = np.random.default_rng(0)
        params = [hg.Parameter(rng.standard_normal((7, 5))), hg.Parameter(rng.standard_normal(3))]
        opt = cls(params, lr=0.01, amsgrad=amsgrad, weight_decay=0.1)
        for _ in range(5):
            for p in params:
                p.grad[...] = rng.standard_normal(p.data.shape)
            opt.step()
        return [p.data.copy() for p in params], opt.state_dict()

    whole, state = train(1 << 20)
    for chunk_bytes in (8, 24, 8 * 37):  # one value, three, a piece longer than a parameter
        pieces, _ = train(chunk_bytes)
        for a, b in zip(whole, pieces, strict=True):
            np.testing.assert_array_equal(a, b)
    moments = {"exp_avg_scaled", "exp_avg_sq_scaled"}
    if amsgrad:
        moments.add("max_exp_avg_sq_scaled")
    assert moments <= set(state["state"][0]) and "scratch" not in state["state"][0]
