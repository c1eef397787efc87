"""``MLPRegressor``: one or k targets, squared error or the Poisson deviance."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from .base import PARAMETERS_DOC, MLPBase, stochastic_solver


class MLPRegressor(RegressorMixin, MLPBase):
    """A multi-layer perceptron regressor trained by handgrad, with scikit-learn's interface.

    With ``loss="squared_error"`` the network's outputs are the predictions and the loss is
    ``½ Σ_j (z_j − y_j)²`` over the k targets; with ``loss="poisson"`` the predictions are
    ``e^z`` and the loss is half the Poisson deviance (y ≥ 0). ``predict`` returns shape
    (n_samples,) for one target and (n_samples, k) for k.
    """

    __doc__ = (__doc__ or "") + PARAMETERS_DOC.replace(
        "    hidden_layer_sizes :",
        """    loss : {'squared_error', 'poisson'}, default='squared_error'
        First, as in scikit-learn's signature: half the squared error, or half the Poisson
        deviance of the mean e^z (the targets must be >= 0).
    hidden_layer_sizes :""",
        1,
    )

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
    ):
        self.loss = loss
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
        )

    def fit(self, X, y, sample_weight=None) -> MLPRegressor:
        """Train a new network on ``X`` (n_samples, n_features), dense or scipy sparse, and
        targets ``y`` (n_samples,) or (n_samples, k), each row weighted by ``sample_weight``
        (or continue the fitted network with ``warm_start=True``)."""
        return self._train(X, y, sample_weight, incremental=False)

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None) -> MLPRegressor:
        """One epoch over ``(X, y)``, continuing the network (and the optimizer's state) of the
        previous call; the first call builds the network."""
        return self._train(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """The predicted targets, shape (n_samples,) for one target or (n_samples, k)."""
        z = self._predict_raw(X)
        if self.out_activation_ == "exp":
            z = np.exp(z)
        return z[:, 0] if z.shape[1] == 1 else z

    def _check_own_params(self) -> None:
        if self.loss not in ("squared_error", "poisson"):
            raise ValueError(f"loss must be 'squared_error' or 'poisson', got {self.loss!r}")

    def _y_format(self) -> dict[str, Any]:
        return {"y_numeric": True}

    def _encode(self, y, *, classes, continuing, first_partial, warm_start):
        """Targets as (n, k) floats; Poisson's must be >= 0."""
        Y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float64, copy=False)
        output = "exp" if self.loss == "poisson" else "identity"
        if output == "exp" and Y.size and Y.min() < 0:
            raise ValueError(
                f"y must be >= 0 with loss='poisson' (a count or a rate), got {Y.min()}"
            )
        return Y, output, {"out_activation_": output}

    def _score_outputs(self, z, Y, w, output):
        """R² of the predictions, weighted, averaged over the targets."""
        pred = np.exp(z) if output == "exp" else z
        return r2_score(Y, pred, sample_weight=w)

    def _metadata(self, cfg):
        output = "log of the predicted mean (predict applies exp)"
        return {
            **super()._metadata(cfg),
            "output": output if self.loss == "poisson" else "predicted targets",
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
