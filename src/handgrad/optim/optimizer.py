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

from collections.abc import Iterable
from typing import Any

import numpy as np

from .._validation import check_nonnegative, check_positive, describe
from ..nn.parameter import Parameter
from .flat import FlatParameters, group_by_dtype


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

    @property
    def flat_groups(self) -> tuple[FlatParameters, ...]:
        """The parameters as flat buffers, one per dtype (``.data``, ``.grad``): what a gradient
        sum across processes adds up. Call ``sync()`` on one before reading it directly."""
        return tuple(self._groups)

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

    def _scratch(self, dtype: np.dtype, size: int) -> np.ndarray:
        """A work array of ``size`` elements, kept between steps but not part of the state (a
        checkpoint does not carry it)."""
        buffers = self.__dict__.setdefault("_scratch_buffers", {})
        buf = buffers.get(dtype)
        if buf is None or buf.size < size:
            buf = buffers[dtype] = np.empty(size, dtype=dtype)
        return buf[:size]

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
