"""MLPClassifier's targets and outputs (two classes, K classes, multilabel), against
scikit-learn's MLPClassifier."""

import numpy as np
import pytest
from helpers.sklearn_mlp import blobs, stops_early, task_data
from sklearn import neural_network as sk_nn

from handgrad.sklearn import MLPClassifier


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
def test_multilabel_outputs_are_sklearns_in_kind_and_shape():
    """A 0/1 indicator matrix y: one sigmoid output per label, predictions an indicator matrix
    of ints, probabilities per label; as scikit-learn's, and about as accurate."""
    _, _, X, Y, _ = task_data("multilabel", n=300)
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    ours = MLPClassifier(**params).fit(X, Y)
    theirs = sk_nn.MLPClassifier(**params).fit(X, Y)
    for name in ("predict", "predict_proba"):
        a, b = getattr(ours, name)(X), getattr(theirs, name)(X)
        assert a.shape == b.shape == Y.shape and a.dtype == b.dtype, name
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.out_activation_ == theirs.out_activation_ == "logistic"
    assert ours.n_outputs_ == theirs.n_outputs_ == 3
    proba = ours.predict_proba(X)
    np.testing.assert_array_equal(ours.predict(X), (proba > 0.5).astype(int))
    np.testing.assert_allclose(ours.predict_log_proba(X), np.log(proba), rtol=1e-10)
    assert ours.score(X, Y) >= theirs.score(X, Y) - 0.05  # subset accuracy
    assert ours.model_.metadata["output"] == "logits of labels (sigmoid each)"


def test_multilabel_partial_fit_keeps_to_its_labels():
    _, _, X, Y, _ = task_data("multilabel")
    est = MLPClassifier((8,), random_state=0).partial_fit(X, Y, classes=[0, 1, 2])
    est.partial_fit(X, Y)
    assert est.predict(X).shape == Y.shape and est.n_iter_ == 1
    with pytest.raises(ValueError, match=r"fitted on multilabel targets, but y is single-label"):
        est.partial_fit(X, Y[:, 0])
    with pytest.raises(ValueError, match=r"y must have 3 label columns like the first call, got 2"):
        est.partial_fit(X, Y[:, :2])


def test_a_target_matrix_of_other_values_is_refused():
    _, _, X, Y, _ = task_data("multilabel")
    for other in (Y * 2 + 1, Y * 2 + X[:, :3].round()):  # two values that are not 0/1; more
        with pytest.raises(ValueError, match=r"multilabel indicator matrix of 0s and 1s"):
            MLPClassifier().fit(X, other)
