"""The estimators' parameters, checked and converted once per call of ``fit``.

Each check raises scikit-learn's error types (``ValueError`` for a value out of range or not
among the choices, ``TypeError`` for a value of the wrong kind) with a message naming the
parameter, what it takes and what came.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validation import (
    check_bool,
    check_float_dtype,
    check_in_range,
    check_int,
    check_nonnegative,
    check_positive,
    describe,
)
from ...nn.layer import Layer, activations

#: scikit-learn's names that are not the activation's own (``activation_name``) in handgrad.
SKLEARN_NAMES = {"logistic": "sigmoid"}
SOLVERS = ("lbfgs", "sgd", "adam")
STOCHASTIC = ("sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")


@dataclass(frozen=True)
class Config:
    """The estimator's parameters, checked and converted, as one fit uses them."""

    hidden_layer_sizes: tuple[int, ...]
    activation: str
    solver: str
    alpha: float
    batch_size: int | None  # None: "auto", min(200, n_samples)
    learning_rate: str
    learning_rate_init: float
    power_t: float
    max_iter: int
    shuffle: bool
    tol: float
    verbose: bool
    warm_start: bool
    momentum: float
    nesterovs_momentum: bool
    early_stopping: bool
    validation_fraction: float
    beta_1: float
    beta_2: float
    epsilon: float
    n_iter_no_change: float  # an int, or inf: never stop for want of improvement
    max_fun: int
    dtype: np.dtype | None  # None: the dtype of X (float32 stays float32, the rest float64)

    @property
    def stochastic(self) -> bool:
        return self.solver in STOCHASTIC

    @property
    def schedule(self) -> str:
        """The learning-rate rule that applies: scikit-learn uses ``learning_rate`` with SGD
        only; Adam's rate stays ``learning_rate_init``."""
        return self.learning_rate if self.solver == "sgd" else "constant"


def activation_name(name: Any) -> str:
    """``name`` checked: an activation's name in scikit-learn's words or handgrad's."""
    return check_choice(name, "activation", sorted([*SKLEARN_NAMES, *activations()]))


def activation_layer(name: str) -> type[Layer]:
    """The activation layer of a checked name."""
    return activations()[SKLEARN_NAMES.get(name, name)]


def check_choice(value: Any, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def _check_hidden_layer_sizes(value: Any) -> tuple[int, ...]:
    name = "hidden_layer_sizes"
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (value,)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"{name} must be a tuple of layer widths such as (100,) or (64, 32), "
            f"got {describe(value)}"
        )
    sizes = tuple(value)
    return tuple(check_int(s, f"{name}[{i}]", minimum=1) for i, s in enumerate(sizes))


def _check_n_iter_no_change(value: Any) -> float:
    """An int >= 1, or ``np.inf`` (as scikit-learn takes it)."""
    if isinstance(value, numbers.Real) and not isinstance(
        value, (bool, np.bool_, numbers.Integral)
    ):
        if math.isinf(value) and value > 0:
            return math.inf
        raise TypeError(f"n_iter_no_change must be an integer >= 1 or np.inf, got {value!r}")
    return check_int(value, "n_iter_no_change", minimum=1)


def check_params(est: Any) -> Config:
    """Check every parameter of ``est``, raising an error that names the first wrong one."""
    batch_size = est.batch_size
    if isinstance(batch_size, str):
        if batch_size != "auto":
            raise ValueError(f"batch_size must be 'auto' or an int >= 1, got {batch_size!r}")
        batch_size = None
    else:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    beta_1 = check_in_range(est.beta_1, "beta_1", 0, 1)
    beta_2 = check_in_range(est.beta_2, "beta_2", 0, 1)
    early_stopping = check_bool(est.early_stopping, "early_stopping")
    fraction = check_in_range(est.validation_fraction, "validation_fraction", 0, 1)
    solver = check_choice(est.solver, "solver", SOLVERS)
    if early_stopping and fraction == 0 and solver in STOCHASTIC:
        raise ValueError(
            "validation_fraction must be > 0 with early_stopping=True, got 0: no rows would be "
            "held out to score"
        )
    verbose = est.verbose
    if not isinstance(verbose, (bool, np.bool_)):
        verbose = check_int(verbose, "verbose", minimum=0)
    dtype = None if est.dtype is None else check_float_dtype(est.dtype, "dtype")
    return Config(
        hidden_layer_sizes=_check_hidden_layer_sizes(est.hidden_layer_sizes),
        activation=activation_name(est.activation),
        solver=solver,
        alpha=check_nonnegative(est.alpha, "alpha"),
        batch_size=batch_size,
        learning_rate=check_choice(est.learning_rate, "learning_rate", LEARNING_RATES),
        learning_rate_init=check_positive(est.learning_rate_init, "learning_rate_init"),
        power_t=check_nonnegative(est.power_t, "power_t"),
        max_iter=check_int(est.max_iter, "max_iter", minimum=1),
        shuffle=check_bool(est.shuffle, "shuffle"),
        tol=check_nonnegative(est.tol, "tol"),
        verbose=bool(verbose),
        warm_start=check_bool(est.warm_start, "warm_start"),
        momentum=check_in_range(est.momentum, "momentum", 0, 1, closed_high=True),
        nesterovs_momentum=check_bool(est.nesterovs_momentum, "nesterovs_momentum"),
        early_stopping=early_stopping,
        validation_fraction=fraction,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=check_positive(est.epsilon, "epsilon"),
        n_iter_no_change=_check_n_iter_no_change(est.n_iter_no_change),
        max_fun=check_int(est.max_fun, "max_fun", minimum=1),
        dtype=dtype,
    )
