"""Optimizers: update rules that turn gradients into new parameter values.

Each optimizer is built from an explicit list of parameters and owns its state (step count,
moment estimates). ``step()`` applies one update from the current ``.grad`` values; subclasses write
only the rule, ``_update(w, g, state)``, over flat arrays holding every parameter of one dtype.

The rules are those of ``torch.optim``'s documentation, with the same defaults, so the same
hyper-parameters give the same trajectory (the test suite checks this against PyTorch). With
``g`` the gradient, ``w`` the parameters and ``t`` the step count starting at 1:

====================  ==================================================================
SGD                   g ← g + λw;  b ← μb + g (b₁ = g);  g ← g + μb (Nesterov) or b;  w ← w − ηg
Adam                  g ← g + λw;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
                      w ← w − η · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
AdamW                 w ← w(1 − ηλ), then Adam with no λ in g
RMSprop               g ← g + λw;  v ← αv + (1−α)g²;  d ← √v + ε (centred: √(v − ḡ²) + ε,
                      ḡ ← αḡ + (1−α)g);  b ← μb + g/d, w ← w − ηb (momentum) or w ← w − ηg/d
====================  ==================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._validation import (
    check_in_range,
    check_nonnegative,
    check_positive,
    describe,
)
from .parameter import FlatParameters, Parameter, group_by_dtype


class Optimizer:
    """Base class: holds the parameters (flattened per dtype), the step count and the state."""

    def __init__(self, params: Iterable[Parameter], lr: float):
        if isinstance(params, Parameter):
            raise TypeError(
                "params must be a list of Parameters (e.g. model.parameters()), got one"
            )
        try:
            params = list(params)
        except TypeError as exc:
            raise TypeError(
                f"params must be an iterable of Parameters, got {describe(params)}"
            ) from exc
        unique: dict[int, Parameter] = {}
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params[{i}] must be a Parameter, got {describe(p)}")
            unique.setdefault(id(p), p)
        if not unique:
            raise ValueError("params is empty: the optimizer has nothing to update")
        self.params = list(unique.values())
        self.lr = check_positive(lr, "lr")
        self.t = 0
        self._groups = [FlatParameters(g) for g in group_by_dtype(self.params)]
        self._state: list[dict[str, np.ndarray]] = [{} for _ in self._groups]

    @property
    def lr(self) -> float:
        """The learning rate η; a schedule may change it between steps."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_nonnegative(value, "lr")

    def step(self) -> None:
        """Update every parameter from its current ``.grad``."""
        self.t += 1
        for group, state in zip(self._groups, self._state):
            group.sync()
            self._update(group.data, group.grad, state)

    def zero_grad(self) -> None:
        for group in self._groups:
            group.sync()
            group.grad.fill(0)

    def grad_norm(self) -> float:
        """The global L2 norm ``‖g‖ = √(Σ g²)`` of every parameter's gradient."""
        total = 0.0
        for group in self._groups:
            group.sync()
            # BLAS's dot is the fastest Σ g²; if it overflows, the scaled norm decides.
            sq = float(np.dot(group.grad, group.grad))
            if not np.isfinite(sq):
                with np.errstate(over="ignore", invalid="ignore"):
                    sq = float(np.linalg.norm(group.grad.astype(np.float64))) ** 2
            total += sq
        return float(np.sqrt(total))

    def clip_grad_norm(self, max_norm: float) -> float:
        """Scale every gradient by ``max_norm / (‖g‖ + 1e-6)`` when ``‖g‖`` exceeds ``max_norm``
        (the global-norm clipping of PyTorch's ``clip_grad_norm_``); returns ``‖g‖`` before."""
        max_norm = check_positive(max_norm, "max_norm")
        norm = self.grad_norm()
        if norm > max_norm:
            scale = max_norm / (norm + 1e-6)
            for group in self._groups:
                group.grad *= group.dtype.type(scale)
        return norm

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    @staticmethod
    def _buffer(state: dict[str, np.ndarray], key: str, like: np.ndarray) -> np.ndarray:
        """The state array ``key``, created as zeros shaped like ``like`` on first use."""
        buf = state.get(key)
        if buf is None:
            buf = state[key] = np.zeros_like(like)
        return buf

    @staticmethod
    def _with_weight_decay(w, g, weight_decay, state):
        """``g + λw`` in a reused buffer (``g`` itself, the user's gradient, is left alone)."""
        if not weight_decay:
            return g
        out = Optimizer._buffer(state, "decayed_grad", g)
        np.multiply(w, w.dtype.type(weight_decay), out=out)
        out += g
        return out

    # State --------------------------------------------------------------------------------

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments (besides the parameters)."""
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue: hyper-parameters, step count, state arrays (copies)."""
        return {
            "type": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "t": self.t,
            "state": [{k: v.copy() for k, v in s.items()} for s in self._state],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(
                f"state_dict is for {state.get('type')!r}, this optimizer is {type(self).__name__}"
            )
        groups = state["state"]
        if len(groups) != len(self._groups):
            raise ValueError(
                f"state_dict has {len(groups)} parameter groups, this optimizer {len(self._groups)}"
            )
        new_state = []
        for group, saved in zip(self._groups, groups):
            arrays = {}
            for key, value in saved.items():
                value = np.asarray(value)
                if value.shape != group.data.shape:
                    raise ValueError(
                        f"state_dict array {key!r} has shape {value.shape}, expected "
                        f"{group.data.shape}"
                    )
                arrays[key] = value.astype(group.dtype, copy=True)
            new_state.append(arrays)
        self.t = 0
        for key, value in state["hyperparameters"].items():
            setattr(self, key, tuple(value) if isinstance(value, list) else value)
        self.t = int(state["t"])
        self._state = new_state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum and weight decay.

    ``w ← w − η·g``; with momentum μ, ``b ← μ·b + g`` (``b = g`` on the first step) and the step
    uses ``b`` (or ``g + μ·b`` with ``nesterov=True``); weight decay λ adds ``λ·w`` to ``g``.
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        self.momentum = check_nonnegative(momentum, "momentum")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {describe(nesterov)}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0")
        self.nesterov = bool(nesterov)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }

    def _update(self, w, g, state):
        g = self._with_weight_decay(w, g, self.weight_decay, state)
        if self.momentum:
            b = self._buffer(state, "momentum", w)
            if self.t == 1:
                b[...] = g
            else:
                b *= w.dtype.type(self.momentum)
                b += g
            if self.nesterov:
                step = self._buffer(state, "scratch", w)
                np.multiply(b, w.dtype.type(self.momentum), out=step)
                step += g
                g = step
            else:
                g = b
        step = self._buffer(state, "scratch", w)
        np.multiply(g, w.dtype.type(self.lr), out=step)
        w -= step


class Adam(Optimizer):
    """Adam (Kingma & Ba), with bias-corrected first and second moment estimates.

    The state holds the moments divided by (1 − β₁) and (1 − β₂) (``exp_avg_scaled``,
    ``exp_avg_sq_scaled``), which saves two passes over the parameters per step; the betas are
    therefore fixed for the optimizer's lifetime.

    With ``amsgrad=True`` the denominator uses the running maximum of ``v`` (Reddi et al.).
    ``weight_decay`` adds ``λ·w`` to the gradient (L2 regularisation); for decoupled decay use
    :class:`AdamW`.
    """

    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ):
        super().__init__(params, lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError) as exc:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {describe(betas)}") from exc
        self._betas = (
            check_in_range(beta1, "betas[0]", 0, 1),
            check_in_range(beta2, "betas[1]", 0, 1),
        )
        self.eps = check_nonnegative(eps, "eps")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        if not isinstance(amsgrad, (bool, np.bool_)):
            raise TypeError(f"amsgrad must be True or False, got {describe(amsgrad)}")
        self.amsgrad = bool(amsgrad)

    @property
    def betas(self) -> tuple[float, float]:
        """(β₁, β₂); fixed once steps were taken, since the stored moments are scaled by them."""
        return self._betas

    @betas.setter
    def betas(self, value) -> None:
        if self.t:
            raise ValueError(
                "betas cannot change once steps were taken: the moments depend on them"
            )
        self._betas = (
            check_in_range(value[0], "betas[0]", 0, 1),
            check_in_range(value[1], "betas[1]", 0, 1),
        )

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
        }

    def _update(self, w, g, state):
        dt = w.dtype.type
        beta1, beta2 = self.betas
        if self._decoupled:
            w *= dt(1 - self.lr * self.weight_decay)
        else:
            g = self._with_weight_decay(w, g, self.weight_decay, state)
        # The moments are kept divided by (1 − β): m̃ = m / (1 − β₁), ṽ = v / (1 − β₂). Their
        # updates then need no multiplication by (1 − β), one pass over the parameters fewer each:
        #   m̃ ← β₁m̃ + g,   ṽ ← β₂ṽ + g²
        m = self._buffer(state, "exp_avg_scaled", w)
        v = self._buffer(state, "exp_avg_sq_scaled", w)
        tmp = self._buffer(state, "scratch", w)
        m *= dt(beta1)
        m += g
        v *= dt(beta2)
        np.multiply(g, g, out=tmp)
        v += tmp
        if self.amsgrad:
            v_max = self._buffer(state, "max_exp_avg_sq_scaled", w)
            v = np.maximum(v_max, v, out=v_max)
        # With k = √((1 − β₂) / (1 − β₂ᵗ)), the step η/(1 − β₁ᵗ) · m / (√(v/(1 − β₂ᵗ)) + ε) is
        #   c · m̃ / (√ṽ + ε/k),   c = η (1 − β₁) / ((1 − β₁ᵗ) k)
        k = math.sqrt((1 - beta2) / (1 - beta2**self.t))
        c = self.lr * (1 - beta1) / ((1 - beta1**self.t) * k)
        np.sqrt(v, out=tmp)
        tmp += dt(self.eps / k)
        np.divide(m, tmp, out=tmp)
        tmp *= dt(c)
        w -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w ← w(1 − ηλ)`` before the
    Adam step, instead of adding ``λw`` to the gradient. PyTorch's default λ is 0.01."""

    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop (Hinton): divide the gradient by a running root-mean-square of past gradients.

    ``centered=True`` subtracts the square of the running mean gradient (a variance estimate);
    ``momentum`` accumulates the normalised step. Defaults are PyTorch's (lr=0.01, alpha=0.99).
    """

    def __init__(
        self,
        params,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ):
        super().__init__(params, lr)
        self.alpha = check_in_range(alpha, "alpha", 0, 1, closed_high=True)
        self.eps = check_nonnegative(eps, "eps")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.momentum = check_nonnegative(momentum, "momentum")
        if not isinstance(centered, (bool, np.bool_)):
            raise TypeError(f"centered must be True or False, got {describe(centered)}")
        self.centered = bool(centered)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }

    def _update(self, w, g, state):
        dt = w.dtype.type
        alpha = self.alpha
        g = self._with_weight_decay(w, g, self.weight_decay, state)
        v = self._buffer(state, "square_avg", w)
        tmp = self._buffer(state, "scratch", w)
        v *= dt(alpha)
        np.multiply(g, g, out=tmp)
        tmp *= dt(1 - alpha)
        v += tmp
        if self.centered:
            g_avg = self._buffer(state, "grad_avg", w)
            np.subtract(g, g_avg, out=tmp)
            tmp *= dt(1 - alpha)
            g_avg += tmp
            np.multiply(g_avg, g_avg, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += dt(self.eps)
        np.divide(g, tmp, out=tmp)  # g / (√v + ε)
        if self.momentum:
            b = self._buffer(state, "momentum_buffer", w)
            b *= dt(self.momentum)
            b += tmp
            np.multiply(b, dt(self.lr), out=tmp)
        else:
            tmp *= dt(self.lr)
        w -= tmp
