"""RMSprop, centred or not, with momentum."""

from __future__ import annotations

import numpy as np

from .._validation import check_bool, check_in_range, check_nonnegative
from .optimizer import Optimizer


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
        self.centered = check_bool(centered, "centered")

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
        tmp = self._scratch(w.dtype, w.size)
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
