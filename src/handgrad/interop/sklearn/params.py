"""The estimators' parameters, checked and converted once per call of ``fit``."""

from __future__ import annotations

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
SOLVERS = ("adam", "sgd")


@dataclass(frozen=True)
class Config:
    """The estimator's parameters, checked and converted, as one fit uses them."""

    hidden_layer_sizes: tuple[int, ...]
    activation: str
    solver: str
    alpha: float
    batch_size: int | None  # None: "auto", min(200, n_samples)
    learning_rate_init: float
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
    n_iter_no_change: int
    dtype: np.dtype


def _activation_name(name: Any) -> str:
    """``name`` checked: an activation's name in scikit-learn's words or handgrad's."""
    return _check_choice(name, "activation", sorted([*SKLEARN_NAMES, *activations()]))


def activation_layer(name: str) -> type[Layer]:
    """The activation layer of a checked name."""
    return activations()[SKLEARN_NAMES.get(name, name)]


def _check_choice(value: Any, name: str, choices) -> str:
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


def check_params(est: Any) -> Config:
    """Check every parameter of ``est``, raising an error that names the first wrong one."""
    if est.solver == "lbfgs":
        raise ValueError(
            "solver='lbfgs' is not available in handgrad, which trains by mini-batches only; "
            "use solver='adam' (the default) or 'sgd'"
        )
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
    if early_stopping and fraction == 0:
        raise ValueError(
            "validation_fraction must be > 0 with early_stopping=True, got 0: no rows would be "
            "held out to score"
        )
    verbose = est.verbose
    if not isinstance(verbose, (bool, np.bool_)):
        verbose = check_int(verbose, "verbose", minimum=0)
    return Config(
        hidden_layer_sizes=_check_hidden_layer_sizes(est.hidden_layer_sizes),
        activation=_activation_name(est.activation),
        solver=_check_choice(est.solver, "solver", SOLVERS),
        alpha=check_nonnegative(est.alpha, "alpha"),
        batch_size=batch_size,
        learning_rate_init=check_positive(est.learning_rate_init, "learning_rate_init"),
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
        n_iter_no_change=check_int(est.n_iter_no_change, "n_iter_no_change", minimum=1),
        dtype=check_float_dtype(est.dtype, "dtype"),
    )
