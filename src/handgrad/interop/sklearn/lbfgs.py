"""The ``"lbfgs"`` solver: SciPy's L-BFGS-B over the network's parameters as one flat vector.

The parameters are laid end to end as scikit-learn packs them, every weight matrix first and
then every bias vector, ``θ = [vec W_1, …, vec W_L, b_1, …, b_L]``, in one
:class:`~handgrad.optim.flat.FlatParameters` buffer; each Parameter's ``.data`` and ``.grad``
are views into it. ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` asks for
``(L(θ), ∇L(θ))`` at the points it chooses, and each answer is one full-batch pass::

    copy θ into the buffer;  z = network(X);  L = objective(z, [Y | s])
    network.backward_params(dL/dz)               fills ∇ of the data term, in the grad buffer
    dW_l += α·W_l / S                             the penalty's part (S = Σ s_i)

over all n rows, with the objective of :mod:`.objective`: the same hand-derived gradient the
stochastic solvers step along. ``max_iter`` bounds the iterations, ``max_fun`` the answers,
and ``tol`` is L-BFGS-B's ``gtol`` (stop when every component of the projected gradient is at
most ``tol``), as in scikit-learn. A point where the network overflows answers ``L = +∞``, which
makes the line search step back; a run that ends on a non-finite loss has diverged.

SciPy works in float64; a float32 network computes in float32 and its gradient is widened.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from ...nn.layer import Layer
from ...optim.flat import FlatParameters
from .objective import Objective, add_penalty_gradient, biases, weights
from .params import Config
from .progress import Progress


class LBFGSDiverged(ArithmeticError):  # noqa: N818  (names an event, like TrainingDiverged)
    """L-BFGS-B ended on a non-finite loss or non-finite weights."""


def train_lbfgs(
    cfg: Config,
    net: Layer,
    model: Layer,
    X,
    target: np.ndarray,
    objective: Objective,
    progress: Progress,
) -> OptimizeResult:
    """Minimise ``objective`` over the parameters of ``model`` (which ``net`` computes with),
    from their current values; returns SciPy's result, with the parameters set to ``result.x``.
    Each iteration's loss joins ``progress.loss_curve`` (printed with ``verbose``)."""
    flat = FlatParameters([*weights(model), *biases(model)])
    iterations = 0

    def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        np.copyto(flat.data, theta, casting="unsafe")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z = net.forward(X)
            value = objective._forward(z, target)
            net.backward_params(objective.backward())
            add_penalty_gradient(objective)
        grad = flat.grad.astype(np.float64)  # a new array: SciPy may keep the last one
        if not (math.isfinite(value) and np.isfinite(grad).all()):
            return math.inf, np.zeros_like(grad)  # the line search then tries a shorter step
        return value, grad

    def record(intermediate_result: OptimizeResult) -> None:
        nonlocal iterations
        iterations += 1
        loss = float(intermediate_result.fun)
        progress.loss_curve.append(loss)
        if progress.best_loss is not None:
            progress.best_loss = min(progress.best_loss, loss)
        if cfg.verbose:
            print(f"Iteration {iterations}, loss = {loss:.8f}", flush=True)

    start = flat.data.astype(np.float64)
    with net.mode(training=True):
        result = minimize(
            value_and_gradient,
            start,
            method="L-BFGS-B",
            jac=True,
            callback=record,
            options={"maxiter": cfg.max_iter, "maxfun": cfg.max_fun, "gtol": cfg.tol},
        )
    net.release()
    if not (math.isfinite(result.fun) and np.isfinite(result.x).all()):
        raise LBFGSDiverged(
            f"L-BFGS-B ended on a loss of {result.fun} after {result.nit} iterations"
        )
    np.copyto(flat.data, result.x, casting="unsafe")
    progress.n_iter = min(int(result.nit), cfg.max_iter)
    return result
