"""The network the estimators build, the objective it descends, and the update rules."""

from __future__ import annotations

import itertools

import numpy as np

from ...nn.dense import Dense
from ...nn.layer import Layer
from ...nn.losses import Loss
from ...nn.sequential import Sequential
from ...optim import SGD, Adam, Optimizer
from .params import Config, activation_layer

#: Every Dense layer starts Glorot-uniform, as scikit-learn's do (see the module docstring).
INIT = "glorot_uniform"


def build_network(
    n_in: int,
    hidden_layer_sizes: tuple[int, ...],
    n_out: int,
    activation: str,
    dtype: np.dtype,
    rng: np.random.Generator,
) -> Sequential:
    """``Dense(n_in→h₁), f, …, Dense(h_L→n_out)``, drawing the weights from ``rng`` in order."""
    make_activation = activation_layer(activation)
    widths = (n_in, *hidden_layer_sizes)
    layers: list[Layer] = []
    for fan_in, fan_out in itertools.pairwise(widths):
        layers += [Dense(fan_in, fan_out, init=INIT, rng=rng, dtype=dtype), make_activation()]
    layers.append(Dense(widths[-1], n_out, init=INIT, rng=rng, dtype=dtype))
    return Sequential(layers)


def weights(model: Sequential) -> list:
    """The weight matrices W_l (the Parameters) of every Dense layer, in order."""
    return [layer.weight for layer in model if isinstance(layer, Dense)]


class PenalisedLoss(Loss):
    """``scale · inner(z, y) + α/(2n) · Σ_l ‖W_l‖²`` in training, ``scale · inner(z, y)`` in
    evaluation, for a batch of n rows.

    ``scale`` turns ``MSELoss`` (½ the mean over all n·k elements) into ½ Σ over the k outputs,
    averaged over the rows. The penalty's gradient, ``(α/n)·W_l``, belongs to the weights, which
    the network's backward overwrites; :class:`_PenalisedStep` adds it just before the update,
    with the ``rows`` of the batch this loss last saw in training.
    """

    def __init__(self, inner: Loss, model: Sequential, alpha: float, scale: float = 1.0):
        self.inner = inner
        self.model = model
        self.alpha = alpha
        self.scale = scale
        self.rows = 0

    def _check_target(self, target, pred_shape, dtype):
        return self.inner._check_target(target, pred_shape, dtype)

    def _forward(self, pred, target):
        value = self.scale * self.inner._forward(pred, target)
        if not self.model.training:
            return value
        self.rows = len(pred)
        if not self.alpha:
            return value
        squares = sum(float(np.vdot(W.data, W.data)) for W in weights(self.model))
        return value + 0.5 * self.alpha * squares / self.rows

    def backward(self):
        grad = self.inner.backward()
        if self.scale != 1:
            grad *= grad.dtype.type(self.scale)
        return grad

    def __repr__(self) -> str:
        return f"{self.inner!r} + L2(alpha={self.alpha})"


class _PenalisedStep:
    """Mixed into an optimizer: ``dW_l += (α/n)·W_l`` for every weight matrix, then the rule."""

    penalty: PenalisedLoss

    def step(self) -> None:
        penalty = self.penalty
        if penalty.alpha:
            for W in weights(penalty.model):
                W.grad += W.data * W.data.dtype.type(penalty.alpha / penalty.rows)
        super().step()


class _SGD(_PenalisedStep, SGD):
    pass


class _Adam(_PenalisedStep, Adam):
    pass


def make_optimizer(cfg: Config, model: Sequential, penalty: PenalisedLoss) -> Optimizer:
    params = model.parameters()
    if cfg.solver == "sgd":
        opt: Optimizer = _SGD(
            params,
            lr=cfg.learning_rate_init,
            momentum=cfg.momentum,
            nesterov=cfg.nesterovs_momentum and cfg.momentum > 0,
        )
    else:
        opt = _Adam(
            params, lr=cfg.learning_rate_init, betas=(cfg.beta_1, cfg.beta_2), eps=cfg.epsilon
        )
    opt.penalty = penalty
    return opt
