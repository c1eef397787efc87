"""What a call hands on to the next (the record of a warm start and of partial_fit), and what a
failing call leaves behind (nothing), against scikit-learn's MLP where it has the same."""

import copy
import pickle

import numpy as np
import pytest
from helpers.sklearn_mlp import blobs, quietly, stops_early, task_data
from sklearn import neural_network as sk_nn

from handgrad.sklearn import MLPClassifier, MLPRegressor


def state(est):
    """Everything a call could change: the attributes (deep-copied) and the weights."""
    params = est.get_params()
    attrs = {k: v for k, v in vars(est).items() if k != "model_" and k not in params}
    weights = [p.data.copy() for p in est.model_.parameters()] if hasattr(est, "model_") else []
    return copy.deepcopy(attrs), weights


def assert_same_state(a, b):
    (attrs_a, weights_a), (attrs_b, weights_b) = a, b
    assert attrs_a.keys() == attrs_b.keys()
    for key in attrs_a:
        va, vb = attrs_a[key], attrs_b[key]
        if key == "_optimizer_state" and va is not None:
            assert va["t"] == vb["t"] and va["type"] == vb["type"]
            for ga, gb in zip(va["state"], vb["state"]):
                assert ga.keys() == gb.keys()
                for name in ga:
                    np.testing.assert_array_equal(ga[name], gb[name])
        elif key in ("_best_params",) and va is not None:
            for x, y in zip(va, vb):
                np.testing.assert_array_equal(x, y)
        elif isinstance(va, np.random.Generator):
            assert va.bit_generator.state == vb.bit_generator.state
        elif isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb, key
    for x, y in zip(weights_a, weights_b):
        np.testing.assert_array_equal(x, y)


# partial_fit ------------------------------------------------------------------------------------


@stops_early
def test_partial_fit_epochs_continue_like_one_fit(rng):
    """k calls of partial_fit run the epochs of fit(max_iter=k): same shuffles, same Adam state."""
    X, y = blobs(rng)
    params = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=3, n_iter_no_change=50)
    whole = MLPClassifier(max_iter=4, **params).fit(X, y)
    parts = MLPClassifier(**params)
    for _ in range(4):
        parts.partial_fit(X, y, classes=[0, 1, 2])
    for a, b in zip(whole.coefs_ + whole.intercepts_, parts.coefs_ + parts.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert parts.loss_curve_ == whole.loss_curve_
    assert parts.n_iter_ == 1 and parts.t_ == 4 * len(X)  # n_iter_: the last call's epochs


def test_partial_fit_continues_after_pickling(rng):
    X, y = blobs(rng)
    est = MLPRegressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    for a, b in zip(est.coefs_, loaded.coefs_):
        np.testing.assert_array_equal(a, b)


@stops_early
def test_partial_fit_after_an_early_stopping_fit(rng):
    X, y = blobs(rng)
    est = MLPClassifier((8,), early_stopping=True, max_iter=20, random_state=0).fit(X, y)
    fitted_epochs = est.n_iter_
    est.set_params(early_stopping=False).partial_fit(X, y)
    assert est.n_iter_ == 1 and len(est.loss_curve_) == fitted_epochs + 1
    assert est.best_loss_ == est.loss_curve_[-1] and est.validation_scores_ is None


def test_partial_fit_needs_classes_on_the_first_call(rng):
    X, y = blobs(rng)
    est = MLPClassifier((4,), random_state=0)
    with pytest.raises(ValueError, match=r"classes must be given on the first call"):
        est.partial_fit(X, y)
    est.partial_fit(X[:10], y[:10], classes=[0, 1, 2, 3])  # a class not seen yet is fine
    assert est.predict_proba(X).shape == (len(X), 4)
    with pytest.raises(ValueError, match=r"labels that are not among the classes.*\[7\]"):
        est.partial_fit(X[:5], np.full(5, 7))
    with pytest.raises(ValueError, match=r"classes must be the classes of the first call"):
        est.partial_fit(X, y, classes=[0, 1])


def test_partial_fit_refuses_early_stopping(rng):
    X, y = blobs(rng)
    est = MLPRegressor(early_stopping=True)
    with pytest.raises(ValueError, match=r"partial_fit does not support early_stopping=True"):
        est.partial_fit(X, y)


# Warm starts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_warm_start_continues_the_record_like_sklearns(early_stopping):
    """With tol larger than any improvement, fit(max_iter=3) counts 0, 1, 2 epochs without
    improvement (no stop: the limit is 2); the warm start's first epoch makes it 3 and stops.
    Both libraries: one epoch run, the curve and the scores grown by one, t_ carried on."""
    ours_cls, theirs_cls, X, y, _ = task_data("multiclass", n=100)
    params = dict(tol=100.0, n_iter_no_change=2, max_iter=3, early_stopping=early_stopping)
    fitted = []
    for cls in (ours_cls, theirs_cls):
        est = quietly(cls(random_state=0, **params).fit, X, y)
        first_curve = list(est.loss_curve_)
        est.set_params(warm_start=True, max_iter=10).fit(X, y)
        assert est.loss_curve_[:3] == first_curve
        fitted.append(est)
    ours, theirs = fitted
    assert ours.n_iter_ == theirs.n_iter_ == 1
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 4
    assert ours._no_improvement_count == theirs._no_improvement_count == 3
    assert ours.t_ == theirs.t_ == 4 * (90 if early_stopping else 100)
    if early_stopping:
        assert len(ours.validation_scores_) == len(theirs.validation_scores_) == 4
        assert ours.best_validation_score_ == max(ours.validation_scores_)
        assert ours.best_loss_ is theirs.best_loss_ is None
    else:
        assert ours.best_loss_ == min(ours.loss_curve_)
        assert ours.validation_scores_ is theirs.validation_scores_ is None


@stops_early
def test_a_warm_start_that_never_scores_better_returns_to_the_earlier_best():
    """With early stopping, the weights to return to are the best of every call, as in
    scikit-learn: weights assigned between the calls that never score as well end replaced by
    the first fit's best."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    X = 10 * np.eye(3)[y] + rng.standard_normal((200, 3))  # apart: the first fit scores 1.0
    est = MLPClassifier((16,), early_stopping=True, learning_rate_init=0.01, random_state=0)
    est.fit(X, y)
    assert est.best_validation_score_ == 1.0
    best = [W.copy() for W in est.coefs_]
    est.coefs_ = [np.zeros_like(W) for W in est.coefs_]  # every row gets the same class
    est.set_params(warm_start=True, max_iter=3, learning_rate_init=1e-9).fit(X, y)
    # the count of the stopped first fit carries over: one epoch more, and it stops again
    assert est.n_iter_ == 1 and est.validation_scores_[-1] < 0.5
    assert est.best_validation_score_ == 1.0
    for a, b in zip(est.coefs_, best):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [MLPClassifier, sk_nn.MLPClassifier])
def test_a_warm_start_with_other_classes_is_refused_like_sklearns(cls):
    X, y = blobs(np.random.default_rng(0))
    est = quietly(cls((4,), max_iter=2, random_state=0).fit, X, y)
    with pytest.raises(ValueError, match=r"warm_start"):
        est.set_params(warm_start=True).fit(X, np.where(y == 2, 1, y))


@stops_early
def test_warm_start_refuses_another_architecture(rng):
    X, y = blobs(rng)
    est = MLPClassifier((8,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(8,\).*asks for \(9,\)"):
        est.set_params(hidden_layer_sizes=(9,)).fit(X, y)


# A call that fails changes nothing --------------------------------------------------------------


def poisoned(X, rows):
    """X with the given rows so large that the network overflows on them."""
    X = X.copy()
    X[rows] *= 1e300
    return X


def test_a_failed_partial_fit_leaves_the_estimator_as_it_was():
    """The call diverges on its last batch, after earlier batches moved the weights: they, the
    record, the optimizer's moments and the random stream are put back, so the next call gives
    what it would have given had the failing one never been made."""
    X, y = blobs(np.random.default_rng(0))
    params = dict(hidden_layer_sizes=(8,), batch_size=20, random_state=1)
    est, twin = MLPClassifier(**params), MLPClassifier(**params)
    for e in (est, twin):
        e.partial_fit(X, y, classes=[0, 1, 2])
    before = state(est)
    with pytest.raises(ValueError, match=r"MLPClassifier diverged at epoch 1, batch \d") as info:
        est.set_params(shuffle=False).partial_fit(poisoned(X, [-1]), y)
    message = str(info.value)
    assert "left as it was" in message and "gradient_clip" not in message
    assert_same_state(state(est), before)
    est.set_params(shuffle=True).partial_fit(X, y)
    twin.partial_fit(X, y)
    assert_same_state(state(est), state(twin))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_failed_warm_start_leaves_the_estimator_as_it_was(solver):
    X, y = blobs(np.random.default_rng(0))
    est = quietly(
        MLPClassifier((8,), solver=solver, max_iter=3, batch_size=20, random_state=1).fit, X, y
    )
    before = state(est)
    with pytest.raises(ValueError, match=r"diverged at epoch \d+, batch \d+"):
        est.set_params(warm_start=True, shuffle=False).fit(poisoned(X, [-1]), y)
    assert_same_state(state(est), before)
    with pytest.raises(ValueError, match=r"X has 5 features"):
        est.fit(np.hstack([X, X[:, :1]]), y)
    assert_same_state(state(est), before)


def test_a_failed_fit_puts_back_a_generator_random_state():
    X, y = blobs(np.random.default_rng(0))
    gen = np.random.default_rng(5)
    est = MLPClassifier((8,), max_iter=2, batch_size=20, shuffle=False, random_state=gen)
    with pytest.raises(ValueError, match=r"diverged"):
        est.fit(poisoned(X, [-1]), y)
    assert vars(est) == vars(
        MLPClassifier((8,), max_iter=2, batch_size=20, shuffle=False, random_state=gen)
    )
    fitted = quietly(est.set_params(shuffle=True).fit, X, y)
    fresh = quietly(
        MLPClassifier((8,), max_iter=2, batch_size=20, random_state=np.random.default_rng(5)).fit,
        X,
        y,
    )
    np.testing.assert_array_equal(fitted.coefs_[0], fresh.coefs_[0])


def test_a_failed_fit_leaves_no_fitted_attributes(rng):
    X, _ = blobs(rng)
    est = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match=r"only one class"):
        est.fit(X, np.zeros(len(X)))
    assert vars(est) == vars(MLPClassifier((8,), random_state=0))


@stops_early
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_random_state_gives_the_same_model_bit_for_bit(cls, dtype, rng):
    X, y = blobs(rng)
    params = dict(hidden_layer_sizes=(8, 8), max_iter=20, early_stopping=True, dtype=dtype)

    def weights(seed):
        est = cls(random_state=seed, **params).fit(X, y)
        return [p.data.copy() for p in est.model_.parameters()]

    first, again, other = weights(7), weights(7), weights(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert first[0].dtype == dtype
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


@stops_early
def test_a_generator_random_state_is_advanced_by_each_fit(rng):
    X, y = blobs(rng)
    gen = np.random.default_rng(0)
    est = MLPClassifier((8,), max_iter=2, random_state=gen)
    first = est.fit(X, y).coefs_[0].copy()
    second = est.fit(X, y).coefs_[0].copy()
    assert not np.array_equal(first, second)
    with_seed = MLPClassifier((8,), max_iter=2, random_state=np.random.default_rng(0)).fit(X, y)
    np.testing.assert_array_equal(first, with_seed.coefs_[0])
