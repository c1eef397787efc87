"""The objective the estimators descend: scikit-learn's, with sample weights and the L2 penalty.

For a batch B of rows with sample weights s_i (all 1 when ``fit`` is given none) and
``S = Σ_{i∈B} s_i``::

    L_B = 1/S · Σ_{i∈B} s_i · ℓ(z_i, y_i)  +  α/(2S) · Σ_l ‖W_l‖²

over the weight matrices W_l (biases are not penalised). The network ends in raw outputs z (one
row of k per sample); the output function h turns them into predictions, and ℓ is:

==========  ====================================================  ===========  ================
output      ℓ(z, y) of one row                                    h(z)         task
==========  ====================================================  ===========  ================
logistic    Σ_j log(1 + e^(z_j)) − y_j·z_j                        σ(z)         2 classes (k=1),
                                                                               k labels
softmax     logsumexp(z) − Σ_j y_j·z_j  (y one-hot)               softmax(z)   k ≥ 3 classes
identity    ½ Σ_j (z_j − y_j)²                                    z            regression
exp         Σ_j e^(z_j) − y_j·z_j + y_j·log y_j − y_j             e^z          Poisson regression
==========  ====================================================  ===========  ================

The last is half the Poisson deviance of the mean μ = e^z (``y·log y`` is 0 at y = 0). Each h is
the canonical link of its ℓ, so in all four the derivative is the same::

    dℓ/dz = h(z) − y          dL_B/dz_i = s_i · (h(z_i) − y_i) / S

and the penalty adds ``dL_B/dW_l = α·W_l / S`` to each weight's gradient. With every s_i = 1,
S = n and this is scikit-learn's objective exactly; a weight of 2 counts a row twice.

The target a batch carries is one array ``[Y | s]``: the k columns of y (one-hot for softmax)
and the weights in the last column, so that the rows of both travel through ``fit`` together.
A batch whose weights sum to 0 carries no information: its value and gradient are 0.
"""

from __future__ import annotations

import numpy as np

from ..._validation import check_bool, check_in_range
from ...nn.dense import Dense
from ...nn.layer import Layer
from ...nn.losses import Loss
from ...nn.parameter import Parameter
from ...optim import Adam, Optimizer
from .params import Config

OUTPUTS = ("logistic", "softmax", "identity", "exp")


def pack_target(Y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
    """``[Y | s]``, shape (n, k + 1), float64: the target that :class:`Objective` takes."""
    return np.hstack([Y.astype(np.float64, copy=False), sample_weight.reshape(-1, 1)])


def weights(model: Layer) -> list:
    """The weight matrices W_l (the Parameters) of every Dense layer, in order."""
    return [layer.weight for _, layer in model.leaves() if isinstance(layer, Dense)]


def biases(model: Layer) -> list:
    """The bias vectors b_l (the Parameters) of every Dense layer, in order."""
    return [layer.bias for _, layer in model.leaves() if isinstance(layer, Dense)]


def _rows_and_h(output: str, z: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ℓ_i for each row, h(z))`` for a batch of raw outputs z and targets Y (see above)."""
    if output == "logistic":
        # log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|)), and σ(z) from e^(−|z|): no overflow
        e = np.exp(-np.abs(z))
        softplus = np.maximum(z, 0) + np.log1p(e)
        h = np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)
        return (softplus - Y * z).sum(axis=1), h
    if output == "softmax":
        # with m = max_j z_j and Σ_j y_j = 1: ℓ = log Σ_j e^(z_j − m) − Σ_j y_j (z_j − m)
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        rows = np.log(total[:, 0]) - (Y * shifted).sum(axis=1)
        e /= total
        return rows, e
    if output == "identity":
        diff = z - Y
        return 0.5 * (diff * diff).sum(axis=1), z
    mu = np.exp(z)
    y_log_y = Y * np.log(np.where(Y > 0, Y, 1))
    return (mu - Y * z + y_log_y - Y).sum(axis=1), mu


class Objective(Loss):
    """``L_B`` of the module docstring for a batch ``(z, [Y | s])``, as a handgrad ``Loss``.

    ``penalised`` are the weight matrices W_l. In training it includes the penalty
    ``α/(2S)·Σ‖W‖²`` and keeps S (``weight_sum``), with which
    :func:`add_penalty_gradient` adds ``α·W/S`` to the weights' gradients: those belong to the
    weights, which the network's backward overwrites, so the update step adds them just before
    the rule runs. In evaluation mode it is the weighted data term alone.
    """

    def __init__(self, output: str, model: Layer, penalised: list[Parameter], alpha: float):
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.output = output
        self.model = model  # the network trained: its mode says whether the penalty counts
        self.penalised = list(penalised)
        self.alpha = alpha
        self.weight_sum = 0.0

    def _check_target(self, target, pred_shape, dtype):
        if target.ndim != 2 or target.shape[1] != pred_shape[1] + 1:
            raise ValueError(
                f"the objective takes targets [Y | sample_weight] of shape (n, {pred_shape[1] + 1})"
                f" for outputs of shape {tuple(pred_shape)}, got {target.shape}"
            )
        return target.astype(dtype, copy=False)

    def _forward(self, pred, target):
        Y, s = target[:, :-1], target[:, -1]
        rows, h = _rows_and_h(self.output, pred, Y)
        total = float(s.sum())
        self._cache = (h, Y, s, total)
        if self.model.training:
            self.weight_sum = total
        if total == 0:
            return 0.0
        value = float(np.dot(s, rows)) / total
        if self.model.training and self.alpha:
            squares = sum(float(np.vdot(W.data, W.data)) for W in self.penalised)
            value += 0.5 * self.alpha * squares / total
        return value

    def backward(self):
        h, Y, s, total = self._cached()
        grad = h - Y
        # dL/dz_i = s_i · (h(z_i) − y_i) / S: the output function and ℓ cancel to h − y
        scale = s / total if total else np.zeros_like(s)
        grad *= scale.astype(grad.dtype, copy=False)[:, None]
        return grad

    def __repr__(self) -> str:
        return f"Objective(output={self.output!r}, alpha={self.alpha})"


def add_penalty_gradient(objective: Objective) -> None:
    """``dW_l += (α/S)·W_l`` for every weight matrix, with S of the batch last seen in training."""
    if objective.alpha and objective.weight_sum:
        for W in objective.penalised:
            W.grad += W.data * W.data.dtype.type(objective.alpha / objective.weight_sum)


class VelocitySGD(Optimizer):
    """SGD with momentum in scikit-learn's form, which keeps the velocity of the parameters::

        v ← μ·v − η·g          w ← w + v            (Nesterov: w ← w + μ·v − η·g)

    starting from v = 0. For a constant η this is :class:`handgrad.SGD`'s rule
    (``b ← μ·b + g``, ``w ← w − η·b``) with v = −η·b; when a schedule changes η between steps
    the two part: here the velocity keeps the steps of earlier rates, as scikit-learn's does.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        self.momentum = check_in_range(momentum, "momentum", 0, 1, closed_high=True)
        self.nesterov = check_bool(nesterov, "nesterov")

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, w, g, state):
        dt = w.dtype.type
        step = self._buffer(state, "scratch", w)
        np.multiply(g, dt(self.lr), out=step)  # η·g
        if not self.momentum:
            w -= step
            return
        v = self._buffer(state, "velocity", w)
        v *= dt(self.momentum)
        v -= step  # v ← μ·v − η·g
        if self.nesterov:
            w -= step
            np.multiply(v, dt(self.momentum), out=step)
            w += step  # w ← w − η·g + μ·v
        else:
            w += v


class PenalisedStep:
    """Mixed into an optimizer: the penalty's gradient is added, then the update rule runs."""

    objective: Objective

    def step(self) -> None:
        add_penalty_gradient(self.objective)
        super().step()


class PenalisedSGD(PenalisedStep, VelocitySGD):
    pass


class PenalisedAdam(PenalisedStep, Adam):
    pass


def make_optimizer(cfg: Config, model: Layer, objective: Objective) -> Optimizer:
    """scikit-learn's SGD (momentum, Nesterov) or handgrad's Adam for ``cfg.solver``, with the
    penalty step."""
    params = model.parameters()
    if cfg.solver == "sgd":
        opt: Optimizer = PenalisedSGD(
            params,
            lr=cfg.learning_rate_init,
            momentum=cfg.momentum,
            nesterov=cfg.nesterovs_momentum and cfg.momentum > 0,
        )
    else:
        opt = PenalisedAdam(
            params, lr=cfg.learning_rate_init, betas=(cfg.beta_1, cfg.beta_2), eps=cfg.epsilon
        )
    opt.objective = objective
    return opt
