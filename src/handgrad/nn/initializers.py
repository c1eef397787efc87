"""Weight initialisers for a weight of shape ``(fan_in, fan_out)``.

Each draws in float64 from the generator and then casts, so a float32 and a float64 layer built
from the same seed start from the same values (up to rounding).

====================  =========================================  =================================
name                  distribution                               keeps the variance of
====================  =========================================  =================================
``"he"``              N(0, 2 / fan_in)                           ReLU activations (He et al. 2015)
``"he_uniform"``      U(-√(6 / fan_in), √(6 / fan_in))            ReLU activations
``"glorot_uniform"``  U(-√(6 / (fan_in + fan_out)), +…)           tanh/sigmoid (Glorot & Bengio)
``"glorot_normal"``   N(0, 2 / (fan_in + fan_out))               tanh/sigmoid
``"zeros"``           0                                          (for tests and linear models)
====================  =========================================  =================================

``"xavier_uniform"`` and ``"xavier_normal"`` are the Glorot names under their other name. A callable
``init(shape, rng) -> ndarray`` is accepted wherever a name is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[tuple[int, int], np.random.Generator], np.ndarray]


def he_normal(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    fan_in = shape[0]
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)


def he_uniform(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    limit = np.sqrt(6.0 / shape[0])
    return rng.uniform(-limit, limit, size=shape)


def glorot_uniform(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape) * np.sqrt(2.0 / (shape[0] + shape[1]))


def zeros(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    return np.zeros(shape)


INITIALIZERS: dict[str, Initializer] = {
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "glorot_uniform": glorot_uniform,
    "xavier_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_normal": glorot_normal,
    "zeros": zeros,
}


def get_initializer(init: str | Initializer) -> Initializer:
    """The initialiser named ``init``, or ``init`` itself when it is callable."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    raise ValueError(f"init must be one of {sorted(INITIALIZERS)} or a callable, got {init!r}")
