"""handgrad.sklearn: scikit-learn's estimator checks, its tools, and its own MLP as the oracle."""

import pickle
import re
import subprocess
import sys
import unittest
import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk_nn
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import handgrad as hg
from handgrad.sklearn import MLPClassifier, MLPRegressor

# Estimators that run out of epochs warn, as scikit-learn's do; tests that stop early on purpose
# say so with this mark.
stops_early = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def blobs(rng, n=120, classes=3, features=4):
    centers = rng.standard_normal((classes, features)) * 3
    y = rng.integers(0, classes, n)
    return centers[y] + rng.standard_normal((n, features)), y


# scikit-learn's own checks ---------------------------------------------------------------------

# Small networks and 100 epochs keep the checks quick; they are the estimators' own parameters.
CHECKED = [
    MLPClassifier((16,), max_iter=100, learning_rate_init=0.01, random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0),
]


@stops_early
@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input runs only when SciPy's array API switch is on; it is safe to turn on
    # for one check, which then verifies that enabling array API dispatch changes nothing.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    try:
        check(estimator)
    except unittest.SkipTest as exc:  # e.g. the DataFrame checks, when pandas is missing
        # The one check that cannot run is the multilabel decision_function's: scikit-learn's
        # MLPClassifier has no decision_function either, and neither does handgrad's.
        if "does not have a decision_function method" in str(exc):
            assert not hasattr(sk_nn.MLPClassifier(), "decision_function")
            assert not hasattr(estimator, "decision_function")
            return
        pytest.fail(f"the check did not run: {exc}")


def test_import_handgrad_does_not_import_sklearn():
    code = "import sys, handgrad; print('sklearn' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


# Working with scikit-learn's tools -------------------------------------------------------------


@stops_early
def test_pipeline_with_a_scaler_classifies_iris():
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    clf = MLPClassifier((16,), learning_rate_init=0.01, max_iter=300, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf)
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) >= 0.9
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(proba.argmax(axis=1), pipe.predict(X_test))


@stops_early
def test_grid_search_picks_among_the_grid_and_refits():
    X, y = load_iris(return_X_y=True)
    grid = {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)], "mlpclassifier__alpha": [1e-4, 1]}
    search = GridSearchCV(
        make_pipeline(
            StandardScaler(), MLPClassifier(learning_rate_init=0.01, max_iter=200, random_state=0)
        ),
        grid,
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_ in search.cv_results_["params"]
    assert search.best_score_ == max(search.cv_results_["mean_test_score"])
    assert search.best_score_ >= 0.9
    refit = search.best_estimator_[-1]
    assert refit.n_features_in_ == 4 and list(refit.classes_) == [0, 1, 2]


@stops_early
def test_cross_val_score_on_breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=100, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    assert scores.shape == (5,)
    assert scores.min() >= 0.92


@stops_early
def test_cross_val_score_regressor_reports_r2():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    est = MLPRegressor(
        hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=300, random_state=0
    )
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.min() >= 0.8


def test_clone_round_trips_the_parameters():
    gen = np.random.default_rng(3)
    est = MLPClassifier(
        (7, 5),
        activation="tanh",
        solver="sgd",
        alpha=0.5,
        batch_size=17,
        learning_rate_init=0.2,
        max_iter=9,
        shuffle=False,
        random_state=gen,
        tol=0.1,
        verbose=True,
        warm_start=True,
        momentum=0.5,
        nesterovs_momentum=False,
        early_stopping=True,
        validation_fraction=0.3,
        beta_1=0.8,
        beta_2=0.9,
        epsilon=1e-6,
        n_iter_no_change=3,
        dtype=np.float32,
    )
    params = est.get_params()
    copy = clone(est)
    copied = copy.get_params()
    assert copied.keys() == params.keys()
    for name, value in params.items():
        if name == "random_state":  # a Generator is deep-copied: same state, another object
            assert copied[name] is not gen
            assert copied[name].random() == np.random.default_rng(3).random()
        else:
            assert copied[name] == value, name


@stops_early
def test_clone_of_a_fitted_estimator_is_unfitted(rng):
    X, y = blobs(rng)
    est = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(X)


# scikit-learn's MLP as the oracle ----------------------------------------------------------------


@stops_early
@pytest.mark.parametrize("dataset", ["digits", "breast_cancer"])
def test_accuracy_in_the_range_of_sklearns_mlp(dataset):
    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer}[dataset]
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    params = dict(hidden_layer_sizes=(64,), max_iter=60, random_state=0)
    ours = MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    theirs = sk_nn.MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    assert theirs >= 0.94  # the problem is learnable at this size
    assert ours >= theirs - 0.03


def twins(ours_cls, theirs_cls, X, y, **params):
    """handgrad's and scikit-learn's estimator, each fitted once, then both set to continue
    (warm start) from handgrad's weights, with fresh optimizers."""
    params = dict(random_state=0, shuffle=False, max_iter=1, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(**params).fit(X, y)
        theirs = theirs_cls(**params).fit(X, y)
    theirs.coefs_ = [W.copy() for W in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    ours.set_params(warm_start=True, max_iter=4)
    theirs.set_params(warm_start=True, max_iter=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    return ours, theirs


TASKS = ["binary", "multiclass", "regression", "regression_3_targets"]


def task_data(task):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4))
    if task == "binary":
        return MLPClassifier, sk_nn.MLPClassifier, X, np.where(X[:, 0] + X[:, 1] > 0, "a", "b")
    if task == "multiclass":
        return MLPClassifier, sk_nn.MLPClassifier, X, rng.integers(0, 3, 50)
    if task == "regression":
        return MLPRegressor, sk_nn.MLPRegressor, X, 2 * X[:, 0] - X[:, 1]
    return MLPRegressor, sk_nn.MLPRegressor, X, X[:, :3] @ rng.standard_normal((3, 3))


def assert_same_weights(ours, theirs, rtol=1e-10):
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("task", TASKS)
def test_sgd_steps_equal_sklearns_with_momentum_and_alpha(task, activation):
    """16 steps (4 epochs of batches 16, 16, 16, 2) from the same weights: the L2 penalty with
    the short last batch's n, Nesterov momentum and the loss all agree with scikit-learn's."""
    ours_cls, theirs_cls, X, y = task_data(task)
    ours, theirs = twins(
        ours_cls,
        theirs_cls,
        X,
        y,
        hidden_layer_sizes=(5, 3),
        activation=activation,
        solver="sgd",
        alpha=0.3,
        batch_size=16,
        learning_rate_init=0.05,
        momentum=0.9,
        nesterovs_momentum=True,
    )
    assert_same_weights(ours, theirs)
    if task != "regression_3_targets":
        np.testing.assert_allclose(ours.loss_curve_[-4:], theirs.loss_curve_[-4:], rtol=1e-12)


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.5, False), (0.9, True)])
def test_sgd_momentum_variants_equal_sklearns(momentum, nesterov):
    ours_cls, theirs_cls, X, y = task_data("multiclass")
    ours, theirs = twins(
        ours_cls,
        theirs_cls,
        X,
        y,
        hidden_layer_sizes=(6,),
        solver="sgd",
        batch_size=10,
        learning_rate_init=0.1,
        momentum=momentum,
        nesterovs_momentum=nesterov,
    )
    assert_same_weights(ours, theirs)


def test_three_target_loss_sums_the_outputs_where_sklearn_reports_their_mean():
    """With k = 3 targets scikit-learn's steps follow ½·Σ over the outputs while its loss curve
    reports ½·mean; handgrad reports what it descends. Without a penalty the curves differ by k."""
    ours_cls, theirs_cls, X, y = task_data("regression_3_targets")
    ours, theirs = twins(
        ours_cls, theirs_cls, X, y, hidden_layer_sizes=(5,), solver="sgd", alpha=0.0
    )
    assert_same_weights(ours, theirs)
    np.testing.assert_allclose(
        ours.loss_curve_[-4:], 3 * np.array(theirs.loss_curve_[-4:]), rtol=1e-12
    )


@pytest.mark.parametrize("task", TASKS)
def test_adam_steps_equal_sklearns_up_to_where_epsilon_enters(task):
    """handgrad's Adam divides by √v̂ + ε, scikit-learn's by √v + ε; with ε → 0 they agree."""
    ours_cls, theirs_cls, X, y = task_data(task)
    ours, theirs = twins(
        ours_cls,
        theirs_cls,
        X,
        y,
        hidden_layer_sizes=(5, 3),
        activation="tanh",
        solver="adam",
        alpha=0.1,
        batch_size=16,
        learning_rate_init=0.01,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-300,
    )
    assert_same_weights(ours, theirs, rtol=1e-9)


# The objective, the stopping rule and the attributes --------------------------------------------


def forward(est, X):
    """The network's output from coefs_ and intercepts_, with NumPy alone (ReLU hidden layers)."""
    A = X
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        A = A @ W + b
        if i < len(est.coefs_) - 1:
            A = np.maximum(A, 0)
    return A


@pytest.mark.parametrize("task", TASKS)
def test_loss_curve_is_the_penalised_objective(task):
    """One full batch from known weights: the warm start's loss_curve_ entry is
    1/n Σ ℓ + α/(2n) Σ ‖W‖², computed here from the weights with NumPy."""
    ours_cls, _, X, y = task_data(task)
    alpha, n = 2.0, len(X)
    est = ours_cls(hidden_layer_sizes=(6, 4), alpha=alpha, max_iter=1, batch_size=n, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        z = forward(est, X)
        penalty = alpha / (2 * n) * sum((W**2).sum() for W in est.coefs_)
        est.set_params(warm_start=True).fit(X, y)
    if task == "binary":
        t = (y == est.classes_[1]).astype(float)[:, None]
        data = np.mean(np.logaddexp(0, z) - t * z)
    elif task == "multiclass":
        lse = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
        data = np.mean(lse - z[np.arange(n), y])
    else:
        data = 0.5 * np.mean(((z - y.reshape(n, -1)) ** 2).sum(axis=1))
    assert len(est.loss_curve_) == 2  # the warm start continues the curve
    assert est.loss_curve_[1] == pytest.approx(data + penalty, rel=1e-12)
    assert penalty > 0.05 * data  # large enough that leaving it out would be seen


def test_biases_are_not_penalised():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ [1.0, -2.0, 0.5] + 10  # a large intercept
    est = MLPRegressor(
        hidden_layer_sizes=(),
        alpha=1e3,
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.05,
        max_iter=600,
        n_iter_no_change=600,
        shuffle=False,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)  # one full batch per epoch: plain gradient descent to the optimum
    W, b = est.coefs_[0][:, 0], est.intercepts_[0][0]
    # The penalty shrinks the weights (to about 1/26 of [1, -2, 0.5] here); the unpenalised
    # intercept sits where its own gradient mean(X·W + b − y) vanishes, near 10. A penalised one
    # would satisfy b = Σ(y − X·W)/(n + α), about 0.4.
    assert np.abs(W).max() < 0.1
    assert b == pytest.approx(np.mean(y - X @ W), rel=1e-9)
    assert b > 9


def replay_stopping(values, tol, n_iter_no_change, higher_is_better):
    """The epoch (1-based) at which scikit-learn's rule stops, or None."""
    best = -np.inf if higher_is_better else np.inf
    count = 0
    for epoch, v in enumerate(values, start=1):
        worse = v < best + tol if higher_is_better else v > best - tol
        count = count + 1 if worse else 0
        best = max(best, v) if higher_is_better else min(best, v)
        if count > n_iter_no_change:
            return epoch
    return None


def test_training_stops_by_sklearns_rule_on_the_loss(rng):
    X, y = blobs(rng)
    est = MLPClassifier((8,), tol=1e-2, n_iter_no_change=3, max_iter=500, random_state=0)
    est.fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) < 500
    assert replay_stopping(est.loss_curve_, 1e-2, 3, higher_is_better=False) == est.n_iter_
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None and est.best_validation_score_ is None


def test_running_out_of_epochs_warns(rng):
    X, y = blobs(rng)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=3 epochs"):
        est = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    assert est.n_iter_ == 3


def test_early_stopping_keeps_the_weights_of_the_best_validation_score(rng):
    X, y = blobs(rng, n=300, classes=4, features=6)
    y_str = np.array(["w", "x", "y", "z"])[y]
    params = dict(
        hidden_layer_sizes=(16,),
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=4,
        tol=0.0,
        learning_rate_init=0.01,
        random_state=5,
    )
    est = MLPClassifier(max_iter=300, **params).fit(X, y_str)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ == len(est.loss_curve_)
    assert replay_stopping(scores, 0.0, 4, higher_is_better=True) == est.n_iter_
    assert est.best_validation_score_ == max(scores)
    assert est.best_loss_ is None
    # The same run cut at the best epoch ends with the same weights: the best were restored.
    best_epoch = int(np.argmax(scores)) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cut = MLPClassifier(max_iter=best_epoch, **params).fit(X, y_str)
    for a, b in zip(est.coefs_, cut.coefs_):
        np.testing.assert_array_equal(a, b)


@stops_early
def test_early_stopping_on_a_regressor_monitors_r2():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X @ [1.0, 2.0, -1.0]
    est = MLPRegressor(
        hidden_layer_sizes=(8,), early_stopping=True, learning_rate_init=0.01, random_state=0
    )
    est.fit(X, y)
    assert max(est.validation_scores_) == est.best_validation_score_ > 0.9


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


@stops_early
def test_partial_fit_after_an_early_stopping_fit(rng):
    X, y = blobs(rng)
    est = MLPClassifier((8,), early_stopping=True, max_iter=20, random_state=0).fit(X, y)
    fitted_epochs = est.n_iter_
    est.set_params(early_stopping=False).partial_fit(X, y)
    assert est.n_iter_ == 1 and len(est.loss_curve_) == fitted_epochs + 1
    assert est.best_loss_ == est.loss_curve_[-1] and est.validation_scores_ is None


def test_a_failed_fit_leaves_no_fitted_attributes(rng):
    X, _ = blobs(rng)
    est = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match=r"only one class"):
        est.fit(X, np.zeros(len(X)))
    assert vars(est) == vars(MLPClassifier((8,), random_state=0))


def test_partial_fit_refuses_early_stopping(rng):
    X, y = blobs(rng)
    est = MLPRegressor(early_stopping=True)
    with pytest.raises(ValueError, match=r"partial_fit does not support early_stopping=True"):
        est.partial_fit(X, y)


@stops_early
def test_warm_start_refuses_another_architecture(rng):
    X, y = blobs(rng)
    est = MLPClassifier((8,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(8,\).*asks for \(9,\)"):
        est.set_params(hidden_layer_sizes=(9,)).fit(X, y)


@stops_early
def test_string_labels_and_binary_with_one_logit(rng):
    X, y = blobs(rng, classes=2)
    labels = np.array(["spam", "ham"])[y]
    est = MLPClassifier((8,), learning_rate_init=0.01, max_iter=50, random_state=0)
    est.fit(X, labels)
    assert list(est.classes_) == ["ham", "spam"]
    assert est.out_activation_ == "logistic" and est.n_outputs_ == 1
    assert est.model_[-1].n_out == 1
    proba = est.predict_proba(X)
    logits = est.model_.predict(X)[:, 0]
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logits)), rtol=1e-12)
    np.testing.assert_array_equal(est.predict(X), np.where(logits > 0, "spam", "ham"))
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-10)
    assert est.score(X, labels) >= 0.95
    assert est.model_.metadata["classes"] == ["ham", "spam"]


@stops_early
def test_multiclass_uses_softmax_over_k_logits(rng):
    X, y = blobs(rng, classes=4)
    est = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, y + 10)
    assert est.out_activation_ == "softmax" and est.model_[-1].n_out == 4
    logits = est.model_.predict(X)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(est.predict_proba(X), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_array_equal(est.predict(X), logits.argmax(axis=1) + 10)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(est.predict_proba(X)), rtol=1e-10)


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
    assert (
        ours.predict(X).shape
        == theirs.predict(X).shape
        == (y_shape[:1] if y_shape[-1] == 1 or len(y_shape) == 1 else y_shape)
    )
    assert ours.n_outputs_ == theirs.n_outputs_


@stops_early
def test_float32_network_follows_the_float64_one(rng):
    X, y = blobs(rng)
    params = dict(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=60, random_state=0)
    single = MLPClassifier(dtype="float32", **params).fit(X, y)
    double = MLPClassifier(dtype=np.float64, **params).fit(X, y)
    assert single.model_.dtype == np.float32 and double.model_.dtype == np.float64
    proba = single.predict_proba(X)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, double.predict_proba(X), atol=1e-4)
    assert single.score(X, y) >= 0.95


@stops_early
def test_attributes_describe_the_network(rng):
    X, y = blobs(rng, features=5)
    est = MLPClassifier((7, 6), activation="tanh", max_iter=4, random_state=0).fit(X, y)
    assert [W.shape for W in est.coefs_] == [(5, 7), (7, 6), (6, 3)]
    assert [b.shape for b in est.intercepts_] == [(7,), (6,), (3,)]
    assert est.n_layers_ == 4 and est.n_features_in_ == 5
    assert est.n_iter_ == len(est.loss_curve_) == 4
    assert est.t_ == 4 * len(X) and est.loss_ == est.loss_curve_[-1]
    assert [type(layer).__name__ for layer in est.model_] == [
        "Dense",
        "Tanh",
        "Dense",
        "Tanh",
        "Dense",
    ]


@stops_early
@pytest.mark.parametrize("activation", ["leaky_relu", "gelu"])
def test_handgrads_extra_activations(activation, rng):
    X, y = blobs(rng)
    est = MLPClassifier((16,), activation=activation, learning_rate_init=0.01, random_state=0)
    est.fit(X, y)
    assert est.score(X, y) >= 0.95
    assert type(est.model_[1]).__name__ == {"leaky_relu": "LeakyReLU", "gelu": "GELU"}[activation]


def verbose_lines(cls, X, y, capsys, **params):
    """The lines ``fit`` printed to stdout (nothing may go to stderr), with every number
    replaced by ``#``, and the lines themselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cls(verbose=True, **params).fit(X, y)
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    return [re.sub(r"\d+(\.\d+)?", "#", line) for line in lines], lines


@pytest.mark.parametrize(
    "params",
    [
        dict(tol=0.5, n_iter_no_change=2),
        dict(tol=0.5, n_iter_no_change=2, early_stopping=True),
        dict(solver="sgd", learning_rate="adaptive", tol=0.5, n_iter_no_change=1, max_iter=20),
    ],
    ids=["loss", "early_stopping", "adaptive"],
)
def test_verbose_lines_are_sklearns(params, capsys):
    """The same lines, in the same order, as scikit-learn's MLP prints for the same run (the
    numbers differ: the runs do, from other initial weights)."""
    X, y = blobs(np.random.default_rng(0), n=200)
    params = dict(hidden_layer_sizes=(8,), random_state=0, **params)
    ours, lines = verbose_lines(MLPClassifier, X, y, capsys, **params)
    theirs, _ = verbose_lines(sk_nn.MLPClassifier, X, y, capsys, **params)
    assert ours == theirs
    assert re.fullmatch(r"Iteration 1, loss = \d\.\d{8}", lines[0])


# The fitted network, pickled and saved -----------------------------------------------------


@stops_early
def test_pickle_holds_the_weights_but_not_the_layer_buffers(rng):
    X, y = blobs(rng, n=200)
    est = MLPClassifier((32,), max_iter=3, random_state=0).fit(X, y)
    before = len(pickle.dumps(est))
    big = np.repeat(X, 50, axis=0)  # predict fills the layers' buffers for 10,000 rows
    expected = est.predict_proba(big)
    assert len(pickle.dumps(est)) == before
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict_proba(big), expected)


@stops_early
def test_model_can_be_saved_and_loaded_with_handgrad(rng, tmp_path):
    X, _ = blobs(rng)
    est = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, ["a", "b", "c"] * 40)
    path = tmp_path / "clf.safetensors"
    hg.save(est.model_, path, metadata=est.model_.metadata)
    loaded = hg.load(path)
    np.testing.assert_array_equal(loaded.predict(X), est.model_.predict(X))
    classes = np.array(loaded.metadata["classes"])
    np.testing.assert_array_equal(classes[loaded.predict(X).argmax(axis=1)], est.predict(X))


# Errors that name the parameter ---------------------------------------------------------------


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


def test_one_class_is_refused(rng):
    X, _ = blobs(rng, n=10)
    with pytest.raises(ValueError, match=r"only one class, \['a'\]"):
        MLPClassifier().fit(X, ["a"] * 10)


def test_predict_before_fit_raises_not_fitted(rng):
    X, _ = blobs(rng, n=10)
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)
    with pytest.raises(NotFittedError):
        MLPRegressor().coefs_  # noqa: B018
