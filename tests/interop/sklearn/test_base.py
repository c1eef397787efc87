"""What both estimators share: scikit-learn's estimator checks and tools, and its own MLP as the
oracle for what they take and give (sparse X, dtypes, attributes, failures)."""

import pickle
import subprocess
import sys
import tracemalloc
import unittest
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from helpers.sklearn_mlp import assert_same_weights, blobs, quietly, stops_early, task_data
from sklearn import neural_network as sk_nn
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import NotFittedError
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

# scikit-learn's own checks ---------------------------------------------------------------------

# Small networks and 100 epochs (or iterations) keep the checks quick; they are the estimators'
# own parameters, for each kind of solver.
CHECKED = [
    MLPClassifier((16,), max_iter=100, learning_rate_init=0.01, random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0),
    MLPClassifier((16,), solver="lbfgs", max_iter=100, random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=100, random_state=0),
    MLPClassifier(
        (16,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.1,
        max_iter=100,
        random_state=0,
    ),
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


# Sparse X -----------------------------------------------------------------------------------------


def sparse_problem(n=150, features=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)) * (rng.random((n, features)) < 0.2)
    y = (X[:, :5].sum(axis=1) > 0).astype(int) + (X[:, 5] > 0.5)
    return X, y


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam", max_iter=5),
        dict(solver="sgd", max_iter=5, early_stopping=True),
        dict(solver="lbfgs", max_iter=20),
    ],
    ids=["adam", "sgd_early_stopping", "lbfgs"],
)
def test_sparse_and_dense_input_give_the_same_model(fmt, params):
    X, y = sparse_problem()
    params = dict(hidden_layer_sizes=(8,), random_state=0, **params)
    dense = quietly(MLPClassifier(**params).fit, X, y)
    sparse = quietly(MLPClassifier(**params).fit, sp.csr_matrix(X).asformat(fmt), y)
    assert_same_weights(sparse, dense, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csr_array(X).asformat(fmt)), dense.predict_proba(X), rtol=1e-9
    )
    assert sparse.loss_curve_ == pytest.approx(dense.loss_curve_, rel=1e-10)


def test_sparse_partial_fit_continues_like_dense():
    X, y = sparse_problem()
    dense, sparse = MLPRegressor(random_state=0), MLPRegressor(random_state=0)
    for _ in range(3):
        dense.partial_fit(X, y)
        sparse.partial_fit(sp.csr_matrix(X), y)
    assert_same_weights(sparse, dense, rtol=1e-9, atol=1e-12)


def test_a_wide_sparse_matrix_is_never_made_dense():
    """2000 rows of 100,000 features, 0.01% of them set: dense, X alone would take 1.6 GB, and
    a batch of 200 rows 160 MB. Training and predicting stay within 40 MB."""
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 2000, 20_000), rng.integers(0, 100_000, 20_000)
    X = sp.csr_matrix((rng.standard_normal(20_000), (rows, cols)), shape=(2000, 100_000))
    y = np.asarray(X[:, :50_000].sum(axis=1)).ravel() > 0
    est = MLPClassifier((4,), max_iter=2, random_state=0)
    tracemalloc.start()
    try:
        quietly(est.fit, X, y)
        est.predict_proba(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40e6
    assert est.n_iter_ == 2 and est.coefs_[0].shape == (100_000, 4)


# dtypes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("X_dtype", [np.float32, np.float64, np.int64])
def test_the_network_computes_in_the_dtype_of_x_like_sklearns(solver, X_dtype):
    """float32 X trains float32 weights and gives float32 outputs, anything else float64, as in
    scikit-learn (whose lbfgs alone widens float32 weights to float64: SciPy's are)."""
    X, y = blobs(np.random.default_rng(0))
    X = (X * 3).astype(X_dtype)
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0)
    ours = quietly(MLPClassifier(**params).fit, X, y)
    theirs = quietly(sk_nn.MLPClassifier(**params).fit, X, y)
    expected = np.float32 if X_dtype == np.float32 else np.float64
    assert ours.coefs_[0].dtype == ours.intercepts_[0].dtype == expected
    assert ours.predict_proba(X).dtype == expected
    if solver != "lbfgs":
        assert theirs.coefs_[0].dtype == expected
        assert theirs.predict_proba(X).dtype == expected


@stops_early
def test_dtype_fixes_the_network_whatever_x_is(rng):
    X, y = blobs(rng)
    single = MLPClassifier((4,), max_iter=3, dtype=np.float32, random_state=0).fit(X, y)
    double = MLPClassifier((4,), max_iter=3, dtype=np.float64, random_state=0)
    double.fit(X.astype(np.float32), y)
    assert single.model_.dtype == np.float32 and double.model_.dtype == np.float64
    single.set_params(warm_start=True, dtype=None).fit(X, y)  # the built network goes on
    assert single.model_.dtype == np.float32
    with pytest.raises(ValueError, match=r"dtype=dtype\('float32'\), but the call asks for"):
        single.set_params(dtype=np.float64).fit(X, y)


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


# coefs_ and intercepts_ -------------------------------------------------------------------------


@stops_early
def test_coefs_and_intercepts_can_be_assigned_like_sklearns(rng):
    X, y = blobs(rng)
    ours = MLPClassifier((6,), max_iter=3, random_state=0).fit(X, y)
    theirs = sk_nn.MLPClassifier((6,), max_iter=3, random_state=0).fit(X, y)
    ours.coefs_ = [W.copy() for W in theirs.coefs_]
    ours.intercepts_ = [b.copy() for b in theirs.intercepts_]
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-12)
    W = rng.standard_normal((6, 3))
    ours.coefs_[1] = W  # one item: into the network too
    theirs.coefs_[1] = W
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-12)
    assert ours.coefs_[1] is ours.model_[2].weight.data and np.array_equal(ours.coefs_[1], W)


@stops_early
def test_assigned_coefs_must_have_the_networks_shapes(rng):
    X, y = blobs(rng)
    est = MLPClassifier((6,), max_iter=3, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(4, 6\).*got \(6, 4\)"):
        est.coefs_ = [np.zeros((6, 4)), np.zeros((6, 3))]
    with pytest.raises(ValueError, match=r"intercepts_ must be a list of 2 arrays.*got 1"):
        est.intercepts_ = [np.zeros(6)]
    with pytest.raises(ValueError, match=r"intercepts_\[1\] must have shape \(3,\)"):
        est.intercepts_[1] = np.zeros(4)
    with pytest.raises(TypeError, match=r"one at a time"):
        est.coefs_[:1] = [np.zeros((4, 6))]
    with pytest.raises(NotFittedError):
        MLPClassifier().coefs_ = [np.zeros((4, 6))]


# Sample weights and divergence ----------------------------------------------------------------


def test_negative_sample_weights_are_refused(rng):
    X, y = blobs(rng)
    weight = np.ones(len(X))
    weight[3] = -1
    with pytest.raises(ValueError, match=r"Negative values in data passed to `sample_weight`"):
        MLPClassifier().fit(X, y, sample_weight=weight)


@pytest.mark.parametrize("learning_rate_init", [0.1, 10.0])
def test_divergence_is_a_value_error_like_sklearns(learning_rate_init):
    """Training that overflows raises ValueError, as scikit-learn's MLP does, with advice in the
    estimator's own parameters; the estimator stays unfitted."""
    _, _, X, y, _ = task_data("regression")
    params = dict(
        hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=learning_rate_init, max_iter=50
    )
    ours = MLPRegressor(random_state=0, **params)
    with pytest.raises(ValueError, match=r"MLPRegressor diverged at epoch \d+, batch 1") as info:
        ours.fit(X * 10, y * 100)
    assert not isinstance(info.value, ArithmeticError)
    assert "learning_rate_init" in str(info.value) and "gradient_clip" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not hasattr(ours, "model_")
    with pytest.raises(ValueError, match="non-finite"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's overflows, then running out of epochs
        sk_nn.MLPRegressor(random_state=0, **params).fit(X * 10, y * 100)


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


# Errors -----------------------------------------------------------------------------------------


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
