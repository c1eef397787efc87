"""handgrad against PyTorch, in float64: losses, gradients and optimizer trajectories.

Skipped where torch is not installed; ``make test`` installs it (the ``torch`` extra), so CI
runs it.
"""

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import handgrad as hg

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)

TOL = dict(rtol=1e-10, atol=1e-12)

ACTIVATIONS = [
    (hg.ReLU, torch.nn.ReLU),
    (lambda: hg.LeakyReLU(0.05), lambda: torch.nn.LeakyReLU(0.05)),
    (hg.Sigmoid, torch.nn.Sigmoid),
    (hg.Tanh, torch.nn.Tanh),
    (hg.Identity, torch.nn.Identity),
    (hg.GELU, torch.nn.GELU),
    (lambda: hg.GELU("tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    (hg.SiLU, torch.nn.SiLU),
    (hg.Softmax, lambda: torch.nn.Softmax(dim=1)),
]


def twin_mlps(rng, sizes, acts, dtype=np.float64):
    """The same MLP in handgrad and in torch (torch's Linear stores Wᵀ)."""
    hg_layers, torch_layers = [], []
    for i, (a, b) in enumerate(pairwise(sizes)):
        dense = hg.Dense(a, b, rng=rng, dtype=dtype)
        dense.bias.data[...] = rng.standard_normal(b) * 0.1
        linear = torch.nn.Linear(a, b, dtype=getattr(torch, np.dtype(dtype).name))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(dense.weight.data.T.copy()))
            linear.bias.copy_(torch.from_numpy(dense.bias.data.copy()))
        hg_layers.append(dense)
        torch_layers.append(linear)
        if i < len(sizes) - 2:
            make_hg, make_torch = ACTIVATIONS[acts[i] % len(ACTIVATIONS)]
            hg_layers.append(make_hg())
            torch_layers.append(make_torch())
    return hg.Sequential(hg_layers), torch.nn.Sequential(*torch_layers)


def torch_grads(tmodel):
    """Gradients in handgrad's order and layout (weights as (n_in, n_out))."""
    out = []
    for m in tmodel:
        if isinstance(m, torch.nn.Linear):
            out += [m.weight.grad.numpy().T, m.bias.grad.numpy()]
    return out


def make_loss_and_target(kind, rng, n, k):
    if kind == "mse":
        t = rng.standard_normal((n, k))
        return hg.MSELoss(), t, lambda p: 0.5 * torch.nn.functional.mse_loss(p, torch.from_numpy(t))
    if kind == "ce":
        t = rng.integers(0, k, n)
        return (
            hg.CrossEntropyLoss(),
            t,
            lambda p: torch.nn.functional.cross_entropy(p, torch.from_numpy(t)),
        )
    if kind == "ce_probs":
        t = rng.random((n, k))
        t /= t.sum(axis=1, keepdims=True)
        return (
            hg.CrossEntropyLoss(),
            t,
            lambda p: torch.nn.functional.cross_entropy(p, torch.from_numpy(t)),
        )
    t = rng.random((n, k))
    return (
        hg.BCEWithLogitsLoss(),
        t,
        lambda p: torch.nn.functional.binary_cross_entropy_with_logits(p, torch.from_numpy(t)),
    )


@pytest.mark.parametrize("kind", ["mse", "ce", "ce_probs", "bce"])
@given(
    depth=st.integers(1, 4),
    batch=st.integers(1, 32),
    seed=st.integers(0, 2**32 - 1),
    acts=st.lists(st.integers(0, 100), min_size=3, max_size=3),
)
def test_loss_and_every_gradient_match_torch(kind, depth, batch, seed, acts):
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(1, 9, depth + 1)]
    model, tmodel = twin_mlps(rng, sizes, acts)
    x = rng.standard_normal((batch, sizes[0]))
    loss, target, torch_loss = make_loss_and_target(kind, rng, batch, sizes[-1])

    value = loss.forward(model(x), target)
    grad_x = model.backward(loss.backward())

    tx = torch.from_numpy(x).requires_grad_(True)
    tvalue = torch_loss(tmodel(tx))
    tvalue.backward()

    np.testing.assert_allclose(value, tvalue.item(), **TOL)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), **TOL)
    for mine, theirs in zip([p.grad for p in model.parameters()], torch_grads(tmodel), strict=True):
        np.testing.assert_allclose(mine, theirs, **TOL)


OPTIMIZERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.001, "alpha": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
]


@pytest.mark.parametrize(("name", "kwargs"), OPTIMIZERS, ids=[f"{n}-{k}" for n, k in OPTIMIZERS])
def test_five_optimizer_steps_match_torch(name, kwargs):
    rng = np.random.default_rng(abs(hash(name)) % 1000)
    model, tmodel = twin_mlps(rng, [4, 6, 5, 3], [0, 3, 0])
    opt = getattr(hg, name)(model.parameters(), **kwargs)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    loss = hg.CrossEntropyLoss()
    for _ in range(5):
        x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
        loss.forward(model(x), y)
        model.backward(loss.backward())
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(
            tmodel(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        topt.step()
        theirs = [
            p.detach().numpy().T if p.ndim == 2 else p.detach().numpy() for p in tmodel.parameters()
        ]
        for mine, their in zip([p.data for p in model.parameters()], theirs, strict=True):
            np.testing.assert_allclose(mine, their, **TOL)


def test_float32_training_loss_matches_torch():
    """One epoch of mini-batch SGD in float32 from the same weights and batch order."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 20)).astype(np.float32)
    y = rng.integers(0, 4, 512)
    model, tmodel = twin_mlps(np.random.default_rng(1), [20, 32, 4], [0], dtype=np.float32)
    opt = hg.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = model.fit(
        X, y, loss=hg.CrossEntropyLoss(), optimizer=opt, batch_size=64, shuffle=False
    )
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    total = 0.0
    for start in range(0, 512, 64):
        xb = torch.from_numpy(X[start : start + 64])
        yb = torch.from_numpy(y[start : start + 64])
        topt.zero_grad()
        value = torch.nn.functional.cross_entropy(tmodel(xb), yb)
        value.backward()
        topt.step()
        total += value.item() * 64
    assert history.loss[0] == pytest.approx(total / 512, rel=1e-5)
