"""MLPRegressor's targets and outputs (one or k targets, squared error or Poisson), against
scikit-learn's MLPRegressor."""

import warnings

import numpy as np
import pytest
from helpers.sklearn_mlp import stops_early, task_data
from sklearn import neural_network as sk_nn
from sklearn.exceptions import DataConversionWarning

from handgrad.sklearn import MLPRegressor


@stops_early
@pytest.mark.parametrize("y_shape", [(60,), (60, 1), (60, 3)])
def test_regressor_predicts_one_column_per_target_like_sklearns(y_shape):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X @ rng.standard_normal((4, 3)))[:, : (y_shape[1] if len(y_shape) == 2 else 1)]
    y = y.reshape(y_shape)
    params = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataConversionWarning)
        ours = MLPRegressor(**params).fit(X, y)
        theirs = sk_nn.MLPRegressor(**params).fit(X, y)
    column = [w for w in caught if issubclass(w.category, DataConversionWarning)]
    assert len(column) == (2 if y_shape == (60, 1) else 0)  # both warn about a column y
    expected = (60, 3) if y_shape == (60, 3) else (60,)  # one target: 1-D, whatever y's shape
    assert ours.predict(X).shape == theirs.predict(X).shape == expected
    assert ours.n_outputs_ == theirs.n_outputs_


@stops_early
def test_poisson_regression_predicts_the_exponential_of_the_outputs_like_sklearn():
    _, _, X, y, _ = task_data("poisson", n=400)
    params = dict(loss="poisson", hidden_layer_sizes=(8,), learning_rate_init=0.01)
    ours = MLPRegressor(random_state=0, **params).fit(X, y)
    theirs = sk_nn.MLPRegressor(random_state=0, **params).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    np.testing.assert_allclose(ours.predict(X), np.exp(ours.model_.predict(X)[:, 0]), rtol=1e-14)
    assert ours.predict(X).min() > 0
    assert ours.score(X, y) >= theirs.score(X, y) - 0.05
    assert "exp" in ours.model_.metadata["output"]


def test_poisson_regression_needs_targets_of_zero_or_more():
    _, _, X, y, _ = task_data("poisson")
    with pytest.raises(ValueError, match=r"y must be >= 0 with loss='poisson'"):
        MLPRegressor(loss="poisson").fit(X, y - 1)
