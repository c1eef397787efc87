"""handgrad's MLPClassifier and MLPRegressor next to scikit-learn's, on scikit-learn's own tools.

1. The 8×8 digits in a Pipeline with StandardScaler: handgrad's and scikit-learn's MLPClassifier
   with the same parameters, their test accuracy and epochs.
2. GridSearchCV over handgrad's alpha and hidden_layer_sizes.
3. The diabetes regression: R² of both MLPRegressors.
4. The fitted network (``model_``) saved with ``hg.save`` and loaded back without scikit-learn.

Run:    python examples/sklearn_estimators.py
Needs:  pip install 'handgrad[sklearn,io]'
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn import neural_network
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import handgrad as hg
from handgrad.sklearn import MLPClassifier, MLPRegressor


def compare_classifiers(X_train, X_test, y_train, y_test) -> MLPClassifier:
    params = dict(hidden_layer_sizes=(64,), early_stopping=True, random_state=0)
    print("digits, Pipeline(StandardScaler, MLPClassifier(hidden_layer_sizes=(64,), ...))")
    fitted = {}
    for name, cls in [("handgrad", MLPClassifier), ("scikit-learn", neural_network.MLPClassifier)]:
        pipe = make_pipeline(StandardScaler(), cls(**params)).fit(X_train, y_train)
        mlp = fitted[name] = pipe[-1]
        print(
            f"  {name:12}  test accuracy {pipe.score(X_test, y_test):.3f}   "
            f"{mlp.n_iter_:3} epochs, best validation accuracy {mlp.best_validation_score_:.3f}"
        )
    return fitted["handgrad"]


def grid_search(X_train, X_test, y_train, y_test) -> None:
    grid = {
        "mlpclassifier__hidden_layer_sizes": [(16,), (64,)],
        "mlpclassifier__alpha": [1e-4, 1.0],
    }
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=50, random_state=0))
    with warnings.catch_warnings():  # 50 epochs are enough to rank the candidates
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipe, grid, cv=3).fit(X_train, y_train)
    print("GridSearchCV, 3-fold mean accuracy:")
    for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        short = {key.split("__")[1]: value for key, value in params.items()}
        print(f"  {short}  {score:.3f}")
    print(f"  best {search.best_params_}, test accuracy {search.score(X_test, y_test):.3f}")


def compare_regressors() -> None:
    X, y = load_diabetes(return_X_y=True)
    y = (y - y.mean()) / y.std()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    params = dict(
        hidden_layer_sizes=(32,), learning_rate_init=0.01, early_stopping=True, random_state=0
    )
    print("diabetes, Pipeline(StandardScaler, MLPRegressor(hidden_layer_sizes=(32,), ...))")
    for name, cls in [("handgrad", MLPRegressor), ("scikit-learn", neural_network.MLPRegressor)]:
        pipe = make_pipeline(StandardScaler(), cls(**params)).fit(X_train, y_train)
        print(f"  {name:12}  test R² {pipe.score(X_test, y_test):.3f}   {pipe[-1].n_iter_} epochs")


def save_and_load(mlp: MLPClassifier, X: np.ndarray) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digits.safetensors"
        hg.save(mlp.model_, path, metadata=mlp.model_.metadata)
        model = hg.load(path)
    same = np.array_equal(model.predict(X), mlp.model_.predict(X))
    print(f"model_ saved and loaded with handgrad alone, same outputs: {same}")
    print(model.summary())


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    mlp = compare_classifiers(X_train, X_test, y_train, y_test)
    print()
    grid_search(X_train, X_test, y_train, y_test)
    print()
    compare_regressors()
    print()
    save_and_load(mlp, StandardScaler().fit(X_train).transform(X_test))


if __name__ == "__main__":
    main()
