"""Helpers of the trace tests: random networks, and a step taken without the trace."""

import numpy as np

import handgrad as hg


class Scale(hg.Layer):
    """y = x ⊙ s, a layer the trace knows no formula for."""

    def __init__(self, n, rng):
        self.s = hg.Parameter(rng.uniform(0.5, 1.5, n))

    def forward(self, x):
        self._x = x
        return x * self.s.data

    def backward(self, grad_out):
        self.s.grad[...] = (grad_out * self._x).sum(axis=0)
        return grad_out * self.s.data


def build(seed):
    """A random network, and a batch and loss for it; the same seed builds the same network."""
    rng = np.random.default_rng(seed)
    width = int(rng.integers(2, 6))
    layers = [hg.Dense(3, width, rng=rng)]
    kinds = [
        hg.ReLU,
        lambda: hg.LeakyReLU(0.1),
        hg.Sigmoid,
        hg.Tanh,
        hg.Softmax,
        hg.Identity,
        hg.GELU,
        lambda: hg.GELU("tanh"),
        lambda: hg.Dropout(0.3, rng=int(rng.integers(1000))),
        lambda: Scale(width, rng),
    ]
    for _ in range(int(rng.integers(1, 4))):
        layers.append(kinds[int(rng.integers(len(kinds)))]())
        if rng.random() < 0.5:
            layers.append(hg.Dense(width, width, rng=rng))
    for dense in layers:
        if isinstance(dense, hg.Dense):
            dense.bias.data[...] = rng.uniform(-0.5, 0.5, dense.n_out)
    n_out = int(rng.integers(1, 4))
    layers.append(hg.Dense(width, n_out, rng=rng))
    model = hg.Sequential(layers)
    batch = int(rng.integers(1, 7))
    x = rng.standard_normal((batch, 3))
    choice = int(rng.integers(3))
    if choice == 0:
        loss, target = hg.MSELoss(), rng.standard_normal((batch, n_out))
    elif choice == 1:
        loss, target = hg.CrossEntropyLoss(), rng.integers(0, n_out, batch)
    else:
        loss, target = hg.BCEWithLogitsLoss(), rng.uniform(0, 1, (batch, n_out))
    return model, x, target, loss


def plain_step(model, x, target, loss):
    """The step without the trace: each layer's forward and backward called one by one."""
    inputs, outputs = [], []
    a = x
    for layer in model.layers:
        inputs.append(a)
        a = layer.forward(a)
        outputs.append(a)
    value = loss.forward(a, target)
    grad = loss.backward()
    grad_pred = grad
    grad_ins, grads = [None] * len(model), [None] * len(model)
    for i in reversed(range(len(model))):
        grad = model.layers[i].backward(grad)
        grad_ins[i] = grad
        grads[i] = {n: p.grad.copy() for n, p in model.layers[i].named_parameters()}
    return inputs, outputs, value, grad_pred, grad_ins, grads
