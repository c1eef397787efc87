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


# Networks on images ------------------------------------------------------------------------


class ChannelsLast(torch.nn.Module):
    """A channels-first torch module applied to a channels-last tensor, as handgrad holds it."""

    def __init__(self, module, spatial):
        super().__init__()
        self.module = module
        self.to_first = (0, 3, 1, 2) if spatial == 2 else (0, 2, 1)
        self.to_last = (0, 2, 3, 1) if spatial == 2 else (0, 2, 1)

    def forward(self, x):
        return self.module(x.permute(*self.to_first)).permute(*self.to_last)


class Residual(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return x + self.inner(x)


class GlobalAvg(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=tuple(range(1, x.ndim - 1)))


def conv_pair(rng, c_in, c_out, k, stride, padding, spatial, dtype):
    tdtype = getattr(torch, np.dtype(dtype).name)
    if spatial == 2:
        layer = hg.Conv2D(c_in, c_out, k, stride=stride, padding=padding, rng=rng, dtype=dtype)
        twin = torch.nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding, dtype=tdtype)
        weight = layer.weight.data.transpose(3, 2, 0, 1)
    else:
        layer = hg.Conv1D(c_in, c_out, k, stride=stride, padding=padding, rng=rng, dtype=dtype)
        twin = torch.nn.Conv1d(c_in, c_out, k, stride=stride, padding=padding, dtype=tdtype)
        weight = layer.weight.data.transpose(2, 1, 0)
    layer.bias.data[...] = rng.standard_normal(c_out) * 0.1
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
        twin.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
    return layer, ChannelsLast(twin, spatial)


def norm_pair(rng, kind, c, spatial, dtype):
    tdtype = getattr(torch, np.dtype(dtype).name)
    if kind == "batch":
        layer = hg.BatchNorm(c, dtype=dtype)
        cls = {2: torch.nn.BatchNorm2d, 1: torch.nn.BatchNorm1d}[spatial]
        twin = ChannelsLast(cls(c, dtype=tdtype), spatial)
        inner = twin.module
    else:
        layer = hg.LayerNorm(c, dtype=dtype)
        twin = inner = torch.nn.LayerNorm(c, dtype=tdtype)
    layer.weight.data[...] = 1 + rng.standard_normal(c) * 0.1
    layer.bias.data[...] = rng.standard_normal(c) * 0.1
    with torch.no_grad():
        inner.weight.copy_(torch.from_numpy(layer.weight.data.copy()))
        inner.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
    return layer, twin


def pool_pair(kind, k, s, spatial):
    hg_cls = {("max", 2): hg.MaxPool2D, ("avg", 2): hg.AvgPool2D, ("max", 1): hg.MaxPool1D,
              ("avg", 1): hg.AvgPool1D}[(kind, spatial)]  # fmt: skip
    t_cls = {("max", 2): torch.nn.MaxPool2d, ("avg", 2): torch.nn.AvgPool2d,
             ("max", 1): torch.nn.MaxPool1d,
             ("avg", 1): torch.nn.AvgPool1d}[(kind, spatial)]  # fmt: skip
    return hg_cls(k, s), ChannelsLast(t_cls(k, s), spatial)


def random_cnn(rng, spatial, dtype=np.float64):
    """A random network of the new layers and dense ones, in handgrad and in torch, and the
    shape of one row of its input."""
    size = int(rng.integers(6, 10))
    channels = int(rng.integers(1, 4))
    row = (size, size, channels) if spatial == 2 else (size * 2, channels)
    ours, theirs = [], []

    def add(pair):
        ours.append(pair[0])
        theirs.append(pair[1])

    acts = [(hg.ReLU, torch.nn.ReLU), (hg.Tanh, torch.nn.Tanh), (hg.GELU, torch.nn.GELU)]
    c, side = channels, row[0]  # the size of each spatial axis so far
    for _ in range(int(rng.integers(1, 3))):
        c_out = int(rng.integers(2, 5))
        k = int(rng.integers(1, min(3, side) + 1))
        s = int(rng.integers(1, 3)) if side >= 4 else 1
        padding = "same" if s == 1 and rng.random() < 0.4 else int(rng.integers(0, 2))
        add(conv_pair(rng, c, c_out, k, s, padding, spatial, dtype))
        pad = (k - 1) if padding == "same" else 2 * padding
        side, c = (side + pad - k) // s + 1, c_out
        if rng.random() < 0.5:
            add(norm_pair(rng, "batch" if rng.random() < 0.6 else "layer", c, spatial, dtype))
        make_hg, make_torch = acts[int(rng.integers(len(acts)))]
        add((make_hg(), make_torch()))
        if side >= 2 and rng.random() < 0.5:
            add(pool_pair("max" if rng.random() < 0.6 else "avg", 2, None, spatial))
            side //= 2
        if rng.random() < 0.4:
            block, tblock = conv_pair(rng, c, c, 3, 1, "same", spatial, dtype)
            add((hg.Residual(hg.Sequential([block, hg.Tanh()])),
                 Residual(torch.nn.Sequential(tblock, torch.nn.Tanh()))))  # fmt: skip
    model = hg.Sequential(ours)
    with model.mode(False):
        shape = model.forward(np.zeros((1, *row), dtype=dtype)).shape
    if rng.random() < 0.5:
        add((hg.GlobalAvgPool(), GlobalAvg()))
        width = c
    else:
        add((hg.Flatten(), torch.nn.Flatten()))
        width = int(np.prod(shape[1:]))
    dense, linear = twin_mlps(
        rng, [width, int(rng.integers(2, 6)), int(rng.integers(2, 5))], [0], dtype
    )
    ours += list(dense)
    theirs += list(linear)
    return hg.Sequential(ours), torch.nn.Sequential(*theirs), row


def their_grads(tmodel):
    """Every parameter gradient of the torch twin in handgrad's order and layout."""
    out = []
    for m in tmodel.modules():
        if isinstance(m, torch.nn.Conv2d):
            out += [m.weight.grad.numpy().transpose(2, 3, 1, 0), m.bias.grad.numpy()]
        elif isinstance(m, torch.nn.Conv1d):
            out += [m.weight.grad.numpy().transpose(2, 1, 0), m.bias.grad.numpy()]
        elif isinstance(m, torch.nn.Linear):
            out += [m.weight.grad.numpy().T, m.bias.grad.numpy()]
        elif isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
            out += [m.weight.grad.numpy(), m.bias.grad.numpy()]
    return out


def their_params(tmodel):
    out = []
    for m in tmodel.modules():
        if isinstance(m, torch.nn.Conv2d):
            out += [m.weight.detach().numpy().transpose(2, 3, 1, 0), m.bias.detach().numpy()]
        elif isinstance(m, torch.nn.Conv1d):
            out += [m.weight.detach().numpy().transpose(2, 1, 0), m.bias.detach().numpy()]
        elif isinstance(m, torch.nn.Linear):
            out += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
        elif isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
            out += [m.weight.detach().numpy(), m.bias.detach().numpy()]
    return out


def their_running_statistics(tmodel):
    out = []
    for m in tmodel.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            out += [m.running_mean.numpy(), m.running_var.numpy()]
    return out


#: torch warns that it copies the input for an even kernel with padding="same"; so be it.
EVEN_SAME = "ignore:Using padding='same' with even kernel lengths"


@pytest.mark.filterwarnings(EVEN_SAME)
@pytest.mark.parametrize("spatial", [1, 2])
@pytest.mark.parametrize("seed", range(12))
def test_random_cnns_loss_and_every_gradient_match_torch(spatial, seed, formulation):
    rng = np.random.default_rng([seed, spatial])
    model, tmodel, row = random_cnn(rng, spatial)
    batch = int(rng.integers(2, 6))
    x = rng.standard_normal((batch, *row))
    y = rng.integers(0, model.layers[-1].n_out, batch)
    loss = hg.CrossEntropyLoss()
    value = loss.forward(model.forward(x), y)
    grad_x = model.backward(loss.backward())
    tx = torch.from_numpy(x).requires_grad_(True)
    tvalue = torch.nn.functional.cross_entropy(tmodel(tx), torch.from_numpy(y))
    tvalue.backward()
    np.testing.assert_allclose(value, tvalue.item(), **TOL)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), **TOL)
    for mine, theirs in zip([p.grad for p in model.parameters()], their_grads(tmodel), strict=True):
        np.testing.assert_allclose(mine, theirs, **TOL)


@pytest.mark.filterwarnings(EVEN_SAME)
@pytest.mark.parametrize("seed", range(6))
def test_random_cnns_in_float32_match_torch_to_1e4_relative(seed, formulation):
    rng = np.random.default_rng([seed, 32])
    model, tmodel, row = random_cnn(rng, 2, np.float32)
    x = rng.standard_normal((4, *row)).astype(np.float32)
    y = rng.integers(0, model.layers[-1].n_out, 4)
    loss = hg.CrossEntropyLoss()
    value = loss.forward(model.forward(x), y)
    grad_x = model.backward(loss.backward())
    tx = torch.from_numpy(x).requires_grad_(True)
    tvalue = torch.nn.functional.cross_entropy(tmodel(tx), torch.from_numpy(y))
    tvalue.backward()

    theirs_all = [tx.grad.numpy(), *their_grads(tmodel)]
    largest = max(float(np.abs(t).max()) for t in theirs_all)

    def close(mine, theirs):
        # 1e-4 of the tensor's largest gradient; a gradient that is 0 but for rounding (a
        # convolution's bias before batch norm) is measured against the network's largest.
        assert mine.dtype == np.float32
        scale = max(float(np.abs(theirs).max()), 1e-3 * largest)
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4 * scale)

    assert value == pytest.approx(tvalue.item(), rel=1e-5)
    close(grad_x, theirs_all[0])
    for mine, theirs in zip([p.grad for p in model.parameters()], theirs_all[1:], strict=True):
        close(mine, theirs)


def batch_norm_cnn(rng, dtype=np.float64):
    ours, theirs = [], []
    for pair in (
        conv_pair(rng, 2, 3, 3, 1, 1, 2, dtype),
        norm_pair(rng, "batch", 3, 2, dtype),
        (hg.ReLU(), torch.nn.ReLU()),
        pool_pair("max", 2, None, 2),
        (hg.Flatten(), torch.nn.Flatten()),
    ):
        ours.append(pair[0])
        theirs.append(pair[1])
    dense, linear = twin_mlps(rng, [48, 8, 3], [0], dtype)
    dense.layers.insert(1, hg.BatchNorm(8, dtype=dtype))
    linear.insert(1, torch.nn.BatchNorm1d(8, dtype=getattr(torch, np.dtype(dtype).name)))
    return hg.Sequential([*ours, *dense]), torch.nn.Sequential(*theirs, *linear)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01})]
)
def test_five_training_steps_with_batch_norm_match_torch(name, kwargs):
    rng = np.random.default_rng(5)
    model, tmodel = batch_norm_cnn(rng)
    opt = getattr(hg, name)(model.parameters(), **kwargs)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    loss = hg.CrossEntropyLoss()
    for _ in range(5):
        x, y = rng.standard_normal((6, 8, 8, 2)) * 2 + 1, rng.integers(0, 3, 6)
        loss.forward(model.forward(x), y)
        model.backward(loss.backward())
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(
            tmodel(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        topt.step()
    # A bias right before batch norm has a gradient of 0 up to rounding (the normalisation
    # removes any shift); Adam's division by √v turns that noise into steps of about lr·1e-9,
    # different in each library: hence the absolute 1e-9.
    ours = [p.data for p in model.parameters()]
    for mine, theirs in zip(ours, their_params(tmodel), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-9)
    ours = [s.data for _, s in model.named_state()]  # and the running mean of that layer
    for mine, theirs in zip(ours, their_running_statistics(tmodel), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-9)
    model.eval()
    tmodel.eval()
    x = rng.standard_normal((3, 8, 8, 2))  # evaluation: the running statistics at work
    np.testing.assert_allclose(
        model.predict(x), tmodel(torch.from_numpy(x)).detach().numpy(), rtol=1e-9, atol=1e-9
    )


def test_max_pool_ties_go_where_torch_sends_them():
    rng = np.random.default_rng(11)
    # Integer values from five: most 2×2 windows (and 3×3 ones) hold their maximum twice or more.
    x = rng.integers(-2, 3, (16, 12, 12, 3)).astype(float)
    for k, s in ((2, None), (3, 2), (3, 1)):
        layer, twin = pool_pair("max", k, s, 2)
        y = layer(x)
        windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[
            :, :: s or k, :: s or k
        ]
        tied = int(np.sum(np.sum(windows == y[..., None, None], axis=(-1, -2)) > 1))
        assert tied >= 600
        g = rng.standard_normal(y.shape)
        tx = torch.from_numpy(x).requires_grad_(True)
        ty = twin(tx)
        ty.backward(torch.from_numpy(g))
        np.testing.assert_array_equal(y, ty.detach().numpy())
        # A gradient sent to another maximum of a window would be off by a whole g; where
        # windows overlap, each position adds its windows' gradients in another order.
        np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=0, atol=1e-14)
