"""Stochastic gradient descent, with momentum, Nesterov's variant and weight decay."""

from __future__ import annotations

import numpy as np

from .._blas import axpy
from .._validation import check_bool, check_nonnegative
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum and weight decay.

    ``w ← w − η·g``; with momentum μ, ``b ← μ·b + g`` (``b = g`` on the first step) and the step
    uses ``b`` (or ``g + μ·b`` with ``nesterov=True``); weight decay λ adds ``λ·w`` to ``g``.
    Each ``w ← w − η·u`` is one BLAS ``axpy``, a single pass over ``w`` and ``u``.
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
        nesterov = check_bool(nesterov, "nesterov")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0")
        self.nesterov = nesterov

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }

    def _update(self, w, g, state):
        if self.weight_decay and not self.momentum:
            axpy(-self.lr * self.weight_decay, w, w)  # w ← (1 − ηλ)·w, then w ← w − η·g
        elif self.weight_decay:
            g = self._with_weight_decay(w, g, self.weight_decay, state)
        if self.momentum:
            b = self._buffer(state, "momentum", w)
            if self.t == 1:
                b[...] = g
            else:
                b *= w.dtype.type(self.momentum)
                b += g
            if self.nesterov:
                step = self._scratch(w.dtype, w.size)
                np.multiply(b, w.dtype.type(self.momentum), out=step)
                step += g
                g = step
            else:
                g = b
        axpy(-self.lr, g, w)
