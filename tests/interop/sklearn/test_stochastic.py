"""The stochastic solvers' epochs: scikit-learn's stopping rule, its learning-rate schedules,
early stopping and its weighted score, and its verbose lines, each against scikit-learn's MLP."""

import re
import warnings

import numpy as np
import pytest
from helpers.sklearn_mlp import (
    assert_same_weights,
    blobs,
    quietly,
    replay_stopping,
    stops_early,
    task_data,
    twins,
)
from sklearn import neural_network as sk_nn
from sklearn.exceptions import ConvergenceWarning

from handgrad.datasets.splits import split_indices
from handgrad.interop.sklearn.network import build_network
from handgrad.interop.sklearn.stochastic import EpochRule
from handgrad.sklearn import MLPClassifier, MLPRegressor

# The stopping rule ------------------------------------------------------------------------------


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


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("cls", ["classifier", "regressor"])
def test_no_improvement_counts_like_sklearns(solver, cls):
    """With tol larger than any improvement every epoch but the first (which improves on
    best_loss_ = inf) counts, so both libraries stop after the same epoch whatever their losses:
    n_iter_no_change + 2."""
    task = "multiclass" if cls == "classifier" else "regression"
    ours_cls, theirs_cls, X, y, _ = task_data(task)
    params = dict(solver=solver, tol=100.0, n_iter_no_change=3, random_state=0, max_iter=50)
    ours = ours_cls(**params).fit(X, y)
    theirs = theirs_cls(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5
    assert ours._no_improvement_count == theirs._no_improvement_count == 4


def test_n_iter_no_change_inf_never_stops_like_sklearns():
    ours_cls, theirs_cls, X, y, _ = task_data("multiclass")
    params = dict(tol=100.0, n_iter_no_change=np.inf, random_state=0, max_iter=15)
    with pytest.warns(ConvergenceWarning):
        ours = ours_cls(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        theirs = theirs_cls(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 15
    assert ours._no_improvement_count == theirs._no_improvement_count == 14


# Learning-rate schedules ------------------------------------------------------------------------


@pytest.mark.parametrize("power_t", [0.5, 0.25])
def test_invscaling_rates_are_sklearns(power_t):
    """After each epoch η = learning_rate_init / (t_ + 1)^power_t, t_ counting the samples of
    every epoch since the network was built: the same steps from the same weights."""
    ours_cls, theirs_cls, X, y, _ = task_data("multiclass")
    params = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate="invscaling",
        power_t=power_t,
        learning_rate_init=0.5,
        batch_size=16,
    )
    ours, theirs = twins(ours_cls, theirs_cls, X, y, epochs=5, **params)
    assert ours.t_ == theirs.t_ == 6 * len(X)
    assert ours._learning_rate == theirs._optimizer.learning_rate
    assert ours._learning_rate == pytest.approx(0.5 / (6 * len(X) + 1) ** power_t, rel=1e-15)
    assert_same_weights(ours, theirs)


def test_adaptive_rates_are_sklearns():
    """Each time more than n_iter_no_change epochs do not improve, η is divided by 5 and the
    count restarts; the same steps from the same weights, the count carried over the warm
    start."""
    ours_cls, theirs_cls, X, y, _ = task_data("multiclass")
    params = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.2,
        tol=100.0,
        n_iter_no_change=1,
        batch_size=16,
    )
    ours, theirs = twins(ours_cls, theirs_cls, X, y, epochs=7, **params)
    assert ours._learning_rate == theirs._optimizer.learning_rate == pytest.approx(0.2 / 5**3)
    assert ours._no_improvement_count == theirs._no_improvement_count
    assert_same_weights(ours, theirs)


def test_adaptive_stops_once_the_rate_is_too_small_like_sklearns():
    ours_cls, theirs_cls, X, y, _ = task_data("regression")
    params = dict(
        solver="sgd", learning_rate="adaptive", tol=100.0, n_iter_no_change=1, random_state=0
    )
    ours = ours_cls(**params).fit(X, y)
    theirs = theirs_cls(**params).fit(X, y)
    # The count reaches 2 > 1 at epochs 3, 5, 7, 9, 11 (the first epoch improves on inf), each
    # time dividing η; 1e-3 / 5^5 <= 1e-6, so the sixth time, at epoch 13, stops
    assert ours.n_iter_ == theirs.n_iter_ == 13
    assert ours._learning_rate == pytest.approx(1e-3 / 5**5)


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_adam_keeps_its_rate_whatever_the_schedule(learning_rate):
    """scikit-learn applies learning_rate to SGD only; Adam with 'adaptive' stops as with
    'constant', and its steps are those of the constant rate."""
    ours_cls, _, X, y, _ = task_data("multiclass")
    params = dict(hidden_layer_sizes=(5,), tol=100.0, n_iter_no_change=2, random_state=0)
    scheduled = ours_cls(learning_rate=learning_rate, **params).fit(X, y)
    constant = ours_cls(**params).fit(X, y)
    assert scheduled.n_iter_ == constant.n_iter_ == 4
    assert_same_weights(scheduled, constant, rtol=0, atol=0)


def test_partial_fit_continues_the_scheduled_rate():
    X, y = blobs(np.random.default_rng(0))
    params = dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, random_state=3)
    whole = quietly(MLPClassifier((8,), max_iter=3, **params).fit, X, y)
    parts = MLPClassifier((8,), **params)
    for _ in range(3):
        parts.partial_fit(X, y, classes=[0, 1, 2])
    assert parts._learning_rate == whole._learning_rate == 0.5 / (3 * len(X) + 1) ** 0.5
    assert_same_weights(parts, whole, rtol=0, atol=0)


# Early stopping ---------------------------------------------------------------------------------


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
def test_the_validation_score_is_weighted_by_the_sample_weights():
    """The held-out rows are scored with their sample weights, as scikit-learn's accuracy_score
    with sample_weight: recomputed here on the same held-out rows (the split is the next draw of
    the run's generator after the initial weights)."""
    X, y = blobs(np.random.default_rng(1), n=200)
    weight = np.where(y == 0, 5.0, 0.2)
    params = dict(hidden_layer_sizes=(4,), max_iter=8, early_stopping=True, random_state=7)
    est = MLPClassifier(**params).fit(X, y, sample_weight=weight)
    rng = np.random.default_rng(7)
    build_network(4, (4,), 3, "relu", np.dtype(np.float64), rng)
    _, held = split_indices(len(X), 0.1, rng, stratify=y)
    correct = est.predict(X[held]) == y[held]
    assert est.best_validation_score_ == pytest.approx(np.average(correct, weights=weight[held]))
    assert est.best_validation_score_ != pytest.approx(correct.mean())


# Interruption and batch sizes -------------------------------------------------------------------


def test_an_interrupted_fit_keeps_the_epochs_so_far_like_sklearns(monkeypatch):
    X, y = blobs(np.random.default_rng(0))
    original = EpochRule.on_epoch_end

    def interrupt_at_the_third_epoch(self, run):
        if run.epoch == 2:
            raise KeyboardInterrupt
        original(self, run)

    monkeypatch.setattr(EpochRule, "on_epoch_end", interrupt_at_the_third_epoch)
    with pytest.warns(UserWarning, match="interrupted by the user"):
        est = MLPClassifier((8,), random_state=0).fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) == 2
    assert est.predict(X).shape == (len(X),)


def test_a_batch_larger_than_the_data_is_cut_with_a_warning_like_sklearns():
    X, y = blobs(np.random.default_rng(0), n=40)
    params = dict(hidden_layer_sizes=(4,), batch_size=100, max_iter=2, random_state=0)
    for cls in (MLPClassifier, sk_nn.MLPClassifier):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls(**params).fit(X, y)
        assert [w.category for w in caught] == [UserWarning, ConvergenceWarning]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ConvergenceWarning is one
        ours = MLPClassifier(shuffle=False, **params).fit(X, y)
        full = MLPClassifier(**{**params, "batch_size": 40}, shuffle=False).fit(X, y)
    assert_same_weights(ours, full, rtol=0, atol=0)


# Verbose lines ----------------------------------------------------------------------------------


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
