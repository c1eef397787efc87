"""scikit-learn estimators trained by handgrad (see :mod:`.estimators`); importing this package
imports scikit-learn."""

from .estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
