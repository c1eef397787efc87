import numpy as np
import pytest

from handgrad.datasets import Dataset


def make_dataset(**changes):
    fields = dict(
        name="toy",
        X_train=np.zeros((4, 2)),
        y_train=np.array([0, 1, 1, 0]),
        X_test=None,
        y_test=None,
        task="classification",
        classes=np.array(["a", "b"]),
        feature_names=["u", "v"],
        target_name="t",
        description="",
    )
    return Dataset(**(fields | changes))


def test_dataset_is_frozen_and_its_repr_is_short():
    ds = make_dataset()
    with pytest.raises(AttributeError):
        ds.name = "other"
    assert repr(ds) == "Dataset('toy', 2 classes, X_train (4, 2) float64, no test part)"


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(task="ranking"), "task must be 'classification' or 'regression', got 'ranking'"),
        (
            dict(X_train=np.zeros(4)),
            "X_train must be an array (samples, features) or (samples, …), got an array",
        ),
        (dict(y_train=np.zeros(3, int)), "y_train must be an array with one target per row of X_"),
        (dict(X_test=np.zeros((2, 2))), "X_test and y_test must both be arrays or both be None"),
        (
            dict(X_test=np.zeros((2, 3)), y_test=np.array([0, 1])),
            "X_test must have rows like X_train's, shape (n, 2), got (2, 3)",
        ),
        (dict(row_shape=(3, 1)), "row_shape (3, 1) must hold the 2 features of a row"),
        (dict(feature_names=["u"]), "feature_names must name the 2 features, got 1 names"),
        (dict(classes=None), "classes must be a 1-D array of the original labels"),
        (dict(y_train=np.array([0, 1, 2, 0])), "y_train must hold labels 0 … 1 (one per class)"),
        (dict(y_train=np.array([0.0, 1, 1, 0])), "y_train must be 1-D integer labels"),
        (dict(task="regression"), "classes must be None for regression"),
    ],
)
def test_dataset_checks_its_fields(changes, message):
    with pytest.raises(ValueError) as info:
        make_dataset(**changes)
    assert message in str(info.value)
