"""The estimators' parameters: each wrong one is named in the error, with what it takes."""

import numpy as np
import pytest
from helpers.sklearn_mlp import blobs

from handgrad.sklearn import MLPClassifier, MLPRegressor


@pytest.mark.parametrize(
    "params, error, message",
    [
        (
            {"solver": "newton"},
            ValueError,
            r"solver must be one of 'lbfgs', 'sgd', 'adam', got 'newton'",
        ),
        (
            {"learning_rate": "optimal"},
            ValueError,
            r"learning_rate must be one of 'constant', 'invscaling', 'adaptive'",
        ),
        ({"power_t": -1}, ValueError, r"power_t must be >= 0, got -1"),
        ({"max_fun": 0}, ValueError, r"max_fun must be >= 1, got 0"),
        ({"n_iter_no_change": 0}, ValueError, r"n_iter_no_change must be >= 1, got 0"),
        ({"n_iter_no_change": 2.5}, TypeError, r"n_iter_no_change must be an integer >= 1 or"),
        ({"n_iter_no_change": -np.inf}, TypeError, r"n_iter_no_change must be an integer >= 1"),
        ({"activation": "softplus"}, ValueError, r"activation must be one of .*'softplus'"),
        ({"hidden_layer_sizes": (8, 0)}, ValueError, r"hidden_layer_sizes\[1\] must be >= 1"),
        ({"hidden_layer_sizes": "8"}, TypeError, r"hidden_layer_sizes must be a tuple"),
        ({"batch_size": "big"}, ValueError, r"batch_size must be 'auto' or an int"),
        ({"batch_size": 0}, ValueError, r"batch_size must be >= 1, got 0"),
        ({"learning_rate_init": 0}, ValueError, r"learning_rate_init must be > 0"),
        ({"alpha": -1}, ValueError, r"alpha must be >= 0, got -1"),
        ({"max_iter": 2.5}, TypeError, r"max_iter must be an integer, got 2.5"),
        ({"momentum": 1.5}, ValueError, r"momentum must be in \[0, 1\], got 1.5"),
        ({"shuffle": "yes"}, TypeError, r"shuffle must be True or False, got 'yes'"),
        ({"beta_2": 1}, ValueError, r"beta_2 must be in \[0, 1\), got 1"),
        ({"dtype": np.int32}, TypeError, r"dtype must be np.float32 or np.float64"),
        ({"validation_fraction": 1.0}, ValueError, r"validation_fraction must be in \[0, 1\)"),
        (
            {"early_stopping": True, "validation_fraction": 0.0},
            ValueError,
            r"validation_fraction must be > 0 with early_stopping=True",
        ),
        (
            {"random_state": np.random.RandomState(0)},
            TypeError,
            r"random_state must be None, an int seed or a np.random.Generator",
        ),
    ],
)
def test_wrong_parameters_are_named_in_the_error(params, error, message, rng):
    X, y = blobs(rng, n=30)
    with pytest.raises(error, match=message):
        MLPClassifier(**{"max_iter": 1, **params}).fit(X, y)


def test_early_stopping_on_too_few_samples_says_so():
    X = np.arange(10.0).reshape(5, 2)
    with pytest.raises(ValueError, match=r"validation_fraction=0.1 of the 5 samples, which is 1"):
        MLPRegressor(early_stopping=True).fit(X, np.arange(5.0))


@pytest.mark.parametrize("value", [np.inf, float("inf"), 1, 10**9])
def test_n_iter_no_change_takes_an_int_or_inf(value, rng):
    X, y = blobs(rng, n=30)
    est = MLPClassifier((4,), max_iter=2, n_iter_no_change=value, random_state=0)
    with pytest.warns(match="max_iter=2"):
        est.fit(X, y)
    assert est.n_iter_ == 2


def test_the_regressors_loss_is_checked(rng):
    X, _ = blobs(rng, n=30)
    with pytest.raises(ValueError, match=r"loss must be 'squared_error' or 'poisson', got 'huber'"):
        MLPRegressor(loss="huber").fit(X, X[:, 0])
