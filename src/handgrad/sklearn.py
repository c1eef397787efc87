"""``from handgrad.sklearn import MLPClassifier, MLPRegressor``: the scikit-learn estimators, which
live in :mod:`handgrad.interop.sklearn` (importing this module imports scikit-learn)."""

from .interop.sklearn import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
