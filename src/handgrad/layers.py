"""The layer contract and the dense (fully connected) layer.

A layer maps a batch ``x`` of shape ``(batch, features_in)`` to ``y`` of shape
``(batch, features_out)`` and back-propagates:

* ``forward(x) -> y`` computes the output and caches, in one private place, what ``backward``
  needs. A second ``forward`` overwrites that cache; it never grows.
* ``backward(grad_out) -> grad_in`` takes dL/dy and returns dL/dx, and writes dL/dθ into
  ``θ.grad`` for each of the layer's parameters θ (overwriting, not adding).

Arrays a layer returns belong to the caller: a later call never writes into them.

A layer checks the type and shape of what it gets, which costs nothing per step. Whether the
values are finite is checked once, where data enter a network: ``model(x)``, ``fit``,
``predict``, ``evaluate``, ``gradcheck`` and ``trace``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._validation import as_numeric_array, check_float_dtype, check_int, make_rng
from .initializers import Initializer, get_initializer
from .parameter import Parameter


class Layer:
    """Base class of every layer.

    A subclass writes ``forward`` and ``backward``; any :class:`~handgrad.Parameter` it keeps as an
    attribute is found by ``parameters()`` without registration, so optimizers, ``Sequential``,
    ``gradcheck`` and training work with it as they do with the built-in layers.
    """

    #: Training or evaluation mode; layers such as Dropout behave differently in each.
    training: bool = True
    #: Attributes holding what the last forward kept for backward (released by ``release()``).
    _transient: tuple[str, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement backward(grad_out)")

    def backward_params(self, grad_out: np.ndarray) -> None:
        """Fill the parameter gradients without returning dL/dx.

        Called for the first trainable layer of a network, whose input gradient nobody needs.
        The default runs ``backward`` and drops the result; a layer overrides it when skipping
        dL/dx saves work (``Dense`` saves a whole matrix product).
        """
        self.backward(grad_out)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """``(attribute name, Parameter)`` for each parameter held as an attribute, in order."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield name, value

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Layer:
        """Switch to training mode (or evaluation mode with ``mode=False``); returns the layer."""
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def release(self) -> None:
        """Drop what the last forward kept for backward (its input, masks), so that no array of
        the caller's stays referenced. ``predict`` and ``evaluate`` call it. The scratch buffers
        stay: they belong to the layer, and the next call reuses them."""
        for name in self._transient:
            if name in self.__dict__:
                self.__dict__[name] = None

    def __getstate__(self) -> dict[str, Any]:
        # A pickled layer carries its weights and settings, not the per-call state: that could be
        # large, and a copy loaded read-only (memory-mapped) could not be written into again.
        state = dict(self.__dict__)
        for name in (*self._transient, "_scratch_buffers", "_scratch_views"):
            state.pop(name, None)
        return state

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer's architecture (not its weights)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A new layer of this architecture (its weights are set separately, e.g. by ``load``)."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # Helpers for subclasses -----------------------------------------------------------------

    def _scratch(self, key: str, shape: tuple[int, ...], dtype, fill=None) -> np.ndarray:
        """A reusable work array of ``shape``, private to this layer.

        One flat buffer per ``key`` grows to the largest size asked for; smaller requests (the
        last, shorter batch of an epoch) get a view of it, so steady-state training allocates
        nothing here. With ``fill``, a new buffer starts filled with that value (and must then
        never be written to). Only for values kept inside the layer, never for arrays it returns.
        """
        views = self.__dict__.get("_scratch_views")
        if views is not None:
            view = views.get((key, shape, dtype))
            if view is not None:
                return view
        else:
            views = self.__dict__["_scratch_views"] = {}
        buffers = self.__dict__.setdefault("_scratch_buffers", {})
        size = math.prod(shape)
        buf = buffers.get(key)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = buffers[key] = np.empty(size, dtype=dtype)
            if fill is not None:
                buf.fill(fill)
            for stale in [k for k in views if k[0] == key]:  # views of the replaced buffer
                del views[stale]
        view = views[(key, shape, dtype)] = buf[:size].reshape(shape)
        return view

    def _cached(self, name: str):
        """A value forward cached for backward, or a clear error if forward has not run."""
        value = self.__dict__.get(name)
        if value is None:
            raise RuntimeError(f"{self!r}.backward called before forward")
        return value

    def _check_grad_out(self, grad_out, expected_shape: tuple[int, ...], dtype) -> np.ndarray:
        """``grad_out`` as an array of the last output's shape, in the layer's dtype."""
        if (
            type(grad_out) is np.ndarray
            and grad_out.dtype == dtype
            and grad_out.shape == expected_shape
        ):
            return grad_out  # the common case, checked without building any message
        grad = as_numeric_array(grad_out, f"{self!r}.backward grad_out")
        if grad.shape != expected_shape:
            raise ValueError(
                f"{self!r}.backward expected grad_out of shape {expected_shape} "
                f"(the shape of its last output), got {grad.shape}"
            )
        return grad.astype(dtype)


class Dense(Layer):
    """Fully connected layer: ``Z = X · W + b``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output features.
    init : str or callable
        Weight initialiser (see :mod:`handgrad.initializers`); the bias starts at zero.
    rng : np.random.Generator, int or None
        Source of the initial weights.
    dtype : np.float32 or np.float64
        The dtype of the weights, and of everything the layer computes.

    Shapes: ``X (batch, n_in)``, ``W = weight (n_in, n_out)``, ``b = bias (n_out,)``,
    ``Z (batch, n_out)``. A row of inputs times ``W`` is the layer, as in ``x.T @ W``.

    Backward, with ``dZ = dL/dZ`` of shape ``(batch, n_out)``::

        dW = Xᵀ · dZ        (n_in, n_out)   "loss w.r.t. weight"
        db = 1ᵀ · dZ        (n_out,)        the column sums of dZ
        dX = dZ · Wᵀ        (batch, n_in)   "loss w.r.t. the layer's input"
    """

    _transient = ("_x",)

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        init: str | Initializer = "he",
        rng: np.random.Generator | int | None = None,
        dtype=np.float64,
    ):
        self.n_in = check_int(n_in, "n_in", minimum=1)
        self.n_out = check_int(n_out, "n_out", minimum=1)
        dt = check_float_dtype(dtype)
        initial = np.asarray(get_initializer(init)((self.n_in, self.n_out), make_rng(rng)))
        if initial.shape != (self.n_in, self.n_out):
            raise ValueError(
                f"init returned shape {initial.shape}, expected {(self.n_in, self.n_out)}"
            )
        self.weight = Parameter(initial, dtype=dt)
        self.bias = Parameter(np.zeros(self.n_out), dtype=dt)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        W = self.weight.data
        if not (
            type(x) is np.ndarray and x.dtype == W.dtype and x.ndim == 2 and x.shape[1] == self.n_in
        ):
            x = self._input(x, W.dtype)
        z = np.dot(x, W)
        z += self.bias.data
        self._x = x
        return z

    def _input(self, x, dtype) -> np.ndarray:
        x = as_numeric_array(x, f"{self!r} input")
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(
                f"{self!r} expected {self.n_in} input features, i.e. shape (batch, {self.n_in}), "
                f"got shape {x.shape}"
            )
        return x.astype(dtype, copy=False)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dZ = self._param_grads(grad_out)
        return np.dot(dZ, self.weight.data.T)  # dX = dZ · Wᵀ

    def backward_params(self, grad_out: np.ndarray) -> None:
        self._param_grads(grad_out)

    def _param_grads(self, grad_out: np.ndarray) -> np.ndarray:
        x = self._cached("_x")
        n = x.shape[0]
        dZ = self._check_grad_out(grad_out, (n, self.n_out), x.dtype)
        # np.dot, not np.matmul: with out= and a batch of 1, matmul skips BLAS and is ~7x slower.
        np.dot(x.T, dZ, out=self.weight.grad)  # dW = Xᵀ · dZ
        # A matrix-vector product with a ones vector is ~3x faster than dZ.sum(axis=0).
        ones = self._scratch("ones", (n,), x.dtype, fill=1)
        np.dot(ones, dZ, out=self.bias.grad)  # db = 1ᵀ · dZ
        return dZ

    def get_config(self) -> dict[str, Any]:
        return {"n_in": self.n_in, "n_out": self.n_out, "dtype": str(self.weight.data.dtype)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dense:
        return cls(**config, init="zeros")  # the weights are about to be overwritten

    def __repr__(self) -> str:
        return f"Dense({self.n_in}→{self.n_out})"


class Dropout(Layer):
    """Inverted dropout: in training, each input is zeroed with probability ``p`` and the survivors
    are scaled by ``1/(1 − p)``, so the expected output equals the input; in evaluation mode the
    layer passes its input through unchanged.

    Training: ``M_ij = [U_ij ≥ p] / (1 − p)`` with ``U ~ U[0, 1)`` drawn from ``rng``;
    ``Y = X ⊙ M`` and ``dL/dX = dL/dY ⊙ M``. Evaluation: ``Y = X``, ``dL/dX = dL/dY``.

    Parameters
    ----------
    p : float in [0, 1)
        Probability of dropping each input.
    rng : np.random.Generator, int or None
        Source of the masks; give a seed for reproducible training.
    """

    _transient = ("_mask",)

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | int | None = None):
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.floating)):
            raise TypeError(f"p must be a probability in [0, 1), got {p!r}")
        if not 0 <= p < 1:
            raise ValueError(f"p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = make_rng(rng)
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_numeric_array(x, f"{self!r} input")
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        if not self.training or self.p == 0:
            self._mask = np.ones((), dtype=x.dtype)  # backward passes the gradient through
            return x.copy()
        keep = self.rng.random(x.shape, dtype=x.dtype if x.dtype == np.float32 else np.float64)
        mask = (keep >= self.p).astype(x.dtype)
        mask *= x.dtype.type(1 / (1 - self.p))
        self._mask = mask
        return x * mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        mask = self._cached("_mask")
        grad = as_numeric_array(grad_out, f"{self!r}.backward grad_out")
        if mask.ndim and grad.shape != mask.shape:
            raise ValueError(
                f"{self!r}.backward expected grad_out of shape {mask.shape} "
                f"(the shape of its last output), got {grad.shape}"
            )
        return (grad * mask).astype(mask.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
