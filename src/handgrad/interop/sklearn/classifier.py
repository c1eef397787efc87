"""``MLPClassifier``: two classes, K classes, or k labels (a 0/1 indicator matrix)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from ...nn.activations import sigmoid, softmax
from .base import PARAMETERS_DOC, MLPBase, stochastic_solver


class MLPClassifier(ClassifierMixin, MLPBase):
    """A multi-layer perceptron classifier trained by handgrad, with scikit-learn's interface.

    Two classes: one logit, binary cross-entropy; K ≥ 3 classes: K logits, softmax
    cross-entropy; a 0/1 indicator matrix y of k labels: k logits, binary cross-entropy summed
    over the labels. Labels may be of any type NumPy can sort (ints, strings, bools).
    """

    __doc__ = (
        (__doc__ or "")
        + PARAMETERS_DOC
        + """
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (for multilabel y, the label columns 0 … k−1);
        ``predict_proba``'s columns follow this order.
    """
    )

    def fit(self, X, y, sample_weight=None) -> MLPClassifier:
        """Train a new network on ``X`` (n_samples, n_features), dense or scipy sparse, and
        labels ``y`` (n_samples,) or a 0/1 indicator matrix (n_samples, n_labels), each row
        weighted by ``sample_weight`` (or continue the fitted network with ``warm_start=True``);
        returns the estimator."""
        return self._train(X, y, sample_weight, incremental=False)

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None) -> MLPClassifier:
        """One epoch over ``(X, y)``, continuing the network (and the optimizer's state) of the
        previous call. The first call builds the network and needs ``classes``, every label that
        any call will use."""
        return self._train(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``; for
        multilabel y, the probability of each label."""
        z = self._predict_raw(X)
        if self._multilabel:
            return sigmoid(z)
        if z.shape[1] == 1:
            p = sigmoid(z)
            return np.hstack([1 - p, p])
        return softmax(z)

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))``, as scikit-learn's: −inf where a probability underflowed
        to 0 (``model_``'s logits hold the finite values)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n_samples,), of the labels' type; for
        multilabel y, the indicator matrix of the labels whose probability exceeds ½."""
        z = self._predict_raw(X)
        if self._multilabel:
            return (z > 0).astype(np.int64)
        index = (z[:, 0] > 0).astype(np.intp) if z.shape[1] == 1 else z.argmax(axis=1)
        return self.classes_[index]

    def _y_format(self) -> dict[str, Any]:
        return {}

    def _encode(self, y, *, classes, continuing, first_partial, warm_start):
        """Y as scikit-learn's label binarizer makes it: one column of 0/1 for two classes,
        one-hot rows for more, the indicator matrix itself for multilabel y."""
        multilabel = y.ndim == 2
        if multilabel:
            kind = type_of_target(y)
            if kind != "multilabel-indicator" or not np.isin(y, (0, 1)).all():
                raise ValueError(
                    "y of shape (n_samples, k) must be a multilabel indicator matrix of 0s and 1s, "
                    f"one column per label; got {kind!r} targets"
                )
            labels = np.arange(y.shape[1])
        else:
            check_classification_targets(y)
            labels = np.unique(y)
        if continuing:
            if multilabel != self._multilabel:
                raise ValueError(
                    "partial_fit and warm_start continue the fitted network, which was fitted on "
                    f"{'multilabel' if self._multilabel else 'single-label'} targets, but y is "
                    f"{'multilabel' if multilabel else 'single-label'}"
                )
            known = self.classes_
            if classes is not None and not np.array_equal(np.unique(classes), known):
                raise ValueError(
                    f"classes must be the classes of the first call, {known.tolist()}, "
                    f"got {np.unique(classes).tolist()}"
                )
            if warm_start and set(labels.tolist()) != set(known.tolist()):
                raise ValueError(
                    f"warm_start continues the network fitted on the classes {known.tolist()}, "
                    f"but y has the classes {labels.tolist()}; fit with warm_start=False to "
                    "learn other classes"
                )
        elif first_partial and classes is None:
            raise ValueError(
                "classes must be given on the first call to partial_fit: every label that any "
                "call will use, e.g. classes=np.unique(y_all)"
            )
        elif multilabel:
            known = labels
        else:
            known = labels if classes is None else np.unique(np.asarray(classes))
        attrs = {"classes_": known, "_multilabel": multilabel}
        if multilabel:
            if len(known) != y.shape[1]:
                raise ValueError(
                    f"y must have {len(known)} label columns like the first call, got {y.shape[1]}"
                )
            return y.astype(np.float64), "logistic", {**attrs, "out_activation_": "logistic"}
        seen = np.isin(y, known)
        if not seen.all():
            raise ValueError(
                f"y has labels that are not among the classes {known.tolist()}: "
                f"{np.unique(y[~seen]).tolist()}"
            )
        if len(known) < 2:
            raise ValueError(
                f"y has only one class, {known.tolist()}; a classifier needs at least 2"
            )
        codes = np.searchsorted(known, y)
        if len(known) == 2:
            return (
                codes.reshape(-1, 1).astype(np.float64),
                "logistic",
                {
                    **attrs,
                    "out_activation_": "logistic",
                },
            )
        one_hot = np.zeros((len(codes), len(known)))
        one_hot[np.arange(len(codes)), codes] = 1
        return one_hot, "softmax", {**attrs, "out_activation_": "softmax"}

    def _strata(self, Y, output):
        if output == "softmax":
            return Y.argmax(axis=1)
        return Y[:, 0] if Y.shape[1] == 1 else None  # multilabel rows are not stratified

    def _score_outputs(self, z, Y, w, output):
        """Accuracy (multilabel: every label of the row right), weighted."""
        if output == "softmax":
            correct = z.argmax(axis=1) == Y.argmax(axis=1)
        else:
            correct = ((z > 0) == (Y > 0.5)).all(axis=1)
        return np.average(correct, weights=w)

    def _metadata(self, cfg):
        n = len(self.classes_)
        if self._multilabel:
            output = "logits of labels (sigmoid each)"
        else:
            output = "logit of classes[1]" if n == 2 else "logits of classes (softmax)"
        return {
            **super()._metadata(cfg),
            "output": output,
            "classes": [_json_label(c) for c in self.classes_.tolist()],
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _json_label(label: Any) -> Any:
    """A class label as model metadata can hold it (JSON): numbers, strings and bools as they
    are, anything else as its ``str``."""
    return label if isinstance(label, (str, int, float, bool)) else str(label)
