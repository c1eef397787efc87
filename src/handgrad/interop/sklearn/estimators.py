"""scikit-learn estimators trained by handgrad: ``MLPClassifier`` and ``MLPRegressor``.

>>> from handgrad.sklearn import MLPClassifier                     # doctest: +SKIP
>>> clf = MLPClassifier((64,), random_state=0).fit(X, y)          # doctest: +SKIP
>>> clf.predict_proba(X_new), clf.model_                          # doctest: +SKIP

They take the parameters of scikit-learn's own ``MLPClassifier``/``MLPRegressor``, pass its
estimator checks, and work in ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``. Training is
handgrad's: the network is a :class:`~handgrad.Sequential` (``model_`` after fitting, to save,
export or trace), the loop is :func:`handgrad.fit`. This module imports scikit-learn
(``pip install 'handgrad[sklearn]'``); ``import handgrad`` does not.

The network
-----------
``hidden_layer_sizes = (h₁, …, h_L)`` and ``activation = f`` build
``Dense(n_features→h₁), f, …, Dense(h_{L-1}→h_L), f, Dense(h_L→n_out)``, which ends in logits:

=============  =====  =================================  ==========================================
task           n_out  loss ℓ(z, y) of one sample         predict_proba;  predict
=============  =====  =================================  ==========================================
2 classes      1      −y log σ(z) − (1−y) log(1 − σ(z))  [1 − σ(z), σ(z)];  classes_[1] if z > 0
K ≥ 3 classes  K      logsumexp(z) − z_y                 softmax(z);  classes_[argmax z]
k targets      k      ½ Σ_j (z_j − y_j)²                 —;  z
=============  =====  =================================  ==========================================

As scikit-learn does, two classes get one logit and binary cross-entropy (the same objective as
two logits and softmax, with half the output weights). Weights start Glorot-uniform,
``U(±√(6 / (fan_in + fan_out)))``, as scikit-learn's do (it narrows the bound to √(2 / …) for
``logistic``); biases start at zero, where scikit-learn draws them from the same interval. With
ReLU, He-normal starts fell behind scikit-learn by a point of accuracy on the digits and breast
cancer data (5 seeds, 50 epochs); Glorot-uniform starts matched it.

The objective
-------------
Each step on a batch B of n rows descends scikit-learn's objective::

    L_B = 1/n · Σ_{i∈B} ℓ(z_i, y_i)  +  α/(2n) · Σ_l ‖W_l‖²

over the weight matrices W_l (biases are not penalised), so the step adds ``(α/n)·W_l`` to each
weight's gradient before the update rule; ``loss_curve_[e]`` is the row-weighted mean of L_B over
the batches of epoch e. scikit-learn computes the same steps; for k > 1 regression targets its
``loss_curve_`` reports the squared error averaged over the k outputs (k times smaller), while
its gradient is that of the sum, as here.

Solvers
-------
``"adam"`` is :class:`handgrad.Adam` with ``betas = (beta_1, beta_2)``, ``eps = epsilon``; it
divides by ``√v̂ + ε`` with the bias-corrected v̂ where scikit-learn divides by ``√v + ε``, so the
two differ by ε's weight alone. ``"sgd"`` is :class:`handgrad.SGD` with a constant learning rate,
``momentum`` and Nesterov's variant (``nesterovs_momentum``); its steps are scikit-learn's. There
is no ``"lbfgs"``: handgrad trains by mini-batches only. ``learning_rate`` schedules other than
scikit-learn's default ``"constant"`` (and ``power_t``, ``max_fun``) are not available.

Stopping
--------
scikit-learn's rule, exactly. After every epoch, without ``early_stopping``: the epoch's loss
counts as no improvement when ``loss > best_loss − tol`` (``best_loss`` is the lowest so far);
with ``early_stopping``: the score (accuracy, or R² for regression) on a held-out
``validation_fraction`` of the rows counts as no improvement when ``score < best − tol``, and the
weights of the best score are restored at the end. Training stops when more than
``n_iter_no_change`` epochs in a row did not improve, and warns (``ConvergenceWarning``) when
``max_iter`` epochs ran without stopping. The held-out rows are drawn with
:func:`handgrad.datasets.splits.split_indices` (stratified by class for the classifier),
``round(validation_fraction · n)`` of them.

Randomness
----------
Everything random (initial weights, the validation split, the order of the rows in each epoch)
comes from one ``np.random.Generator`` made from ``random_state`` (None, an int seed, or a
Generator, which is then advanced): the same int gives the same fitted model, bit for bit.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..._validation import make_rng
from ...datasets.splits import held_out_count, split_indices
from ...nn.activations import sigmoid, softmax
from ...nn.dense import Dense
from ...nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from ...optim import Optimizer
from .network import PenalisedLoss, build_network, make_optimizer, weights
from .params import Config, check_params
from .stopping import NoImprovementRule

__all__ = ["MLPClassifier", "MLPRegressor"]


class _MLPBase(BaseEstimator):
    """What the two estimators share: parameters, the training run, pickling.

    A subclass says how targets become the loss's targets (``_encode``), which loss and output
    width that takes, and how outputs become predictions.
    """

    _score_name = ""  # the handgrad metric that early stopping monitors

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
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
        dtype=np.float64,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    # Fitted attributes that are views of the network ---------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, ``coefs_[l]`` of shape (fan_in, fan_out), as scikit-learn lays
        them out (the arrays the network computes with, not copies)."""
        check_is_fitted(self, "model_")
        return [W.data for W in weights(self.model_)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors, ``intercepts_[l]`` of shape (fan_out,)."""
        check_is_fitted(self, "model_")
        return [layer.bias.data for layer in self.model_ if isinstance(layer, Dense)]

    # Training ---------------------------------------------------------------------------------

    def _train(self, X, y, *, incremental: bool, classes=None):
        """``fit`` (``incremental=False``) or ``partial_fit``: one run of handgrad's ``fit``.

        Everything is worked out in local variables; the fitted attributes are written only once
        training has succeeded (``_record``), so a call that fails leaves the estimator as it was.
        """
        cfg = check_params(self)
        self._check_own_params()
        if incremental and cfg.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: it trains on the data it is "
                "given, one epoch per call; set early_stopping=False"
            )
        fitted = hasattr(self, "model_")
        continuing = fitted and (incremental or cfg.warm_start)  # the same network goes on
        resuming = fitted and incremental  # the same record and optimizer state go on too
        X, y = validate_data(
            self,
            X,
            y,
            reset=not resuming,
            dtype=(np.float64, np.float32),
            **self._target_validation(),
        )
        target, n_out, attrs = self._encode(
            y, classes=classes, continuing=continuing, first_partial=incremental and not fitted
        )
        if continuing:
            self._check_same_network(cfg, n_out)
        rng = self._rng if resuming else make_rng(self.random_state, "random_state")
        if continuing:
            model = self.model_
        else:
            model = build_network(
                X.shape[1], cfg.hidden_layer_sizes, n_out, cfg.activation, cfg.dtype, rng
            )

        X_train, y_train, validation = X, target, None
        if cfg.early_stopping:
            X_train, y_train, validation = self._hold_out(X, target, cfg, rng)
        if validation is not None:
            rule = NoImprovementRule(cfg, f"val_{self._score_name}", -np.inf, 0, True)
        else:
            best_loss = self.best_loss_ if resuming else None
            rule = NoImprovementRule(
                cfg,
                "loss",
                best=np.inf if best_loss is None else best_loss,
                count=self._no_improvement_count if resuming else 0,
                can_stop=not incremental,
            )
        loss = PenalisedLoss(self._loss(n_out), model, cfg.alpha, scale=self._loss_scale(n_out))
        optimizer = make_optimizer(cfg, model, loss)
        if resuming:
            self._restore_optimizer(optimizer)
        history = model.fit(
            X_train,
            y_train,
            loss=loss,
            optimizer=optimizer,
            epochs=1 if incremental else cfg.max_iter,
            batch_size=min(200, len(X_train)) if cfg.batch_size is None else cfg.batch_size,
            shuffle=cfg.shuffle,
            seed=rng,
            validation_data=validation,
            metrics=None if validation is None else [self._score_name],
            callbacks=[rule],
            verbose=2 if cfg.verbose else 0,
        )
        self._record(cfg, attrs, model, optimizer, rng, rule, history, len(X_train), resuming)
        if not incremental and not rule.stopped:
            warnings.warn(
                f"{type(self).__name__} ran max_iter={cfg.max_iter} epochs and the optimisation "
                "has not converged yet; raise max_iter or learning_rate_init, or relax tol",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _record(self, cfg, attrs, model, optimizer, rng, rule, history, n_train, resuming):
        """Write the fitted attributes of a training run that has succeeded."""
        for name, value in attrs.items():
            setattr(self, name, value)
        seen = self.t_ if hasattr(self, "model_") and model is self.model_ else 0
        self.model_ = model
        self.model_.metadata = self._metadata(cfg)
        self._rng = rng
        self._optimizer_state = optimizer.state_dict()
        self._architecture = (cfg.hidden_layer_sizes, cfg.activation, cfg.dtype, model[-1].n_out)
        self.loss_curve_ = [*(self.loss_curve_ if resuming else []), *history["loss"]]
        self.loss_ = self.loss_curve_[-1]
        self.n_iter_ = len(self.loss_curve_)
        self.t_ = seen + n_train * len(history)
        self.n_layers_ = len(cfg.hidden_layer_sizes) + 2
        self.n_outputs_ = model[-1].n_out
        early = rule.monitor != "loss"
        self.best_loss_ = None if early else rule.best
        self._no_improvement_count = 0 if early else rule.count
        self.validation_scores_ = rule.scores if early else None
        self.best_validation_score_ = rule.best if early else None

    def _hold_out(self, X, target, cfg: Config, rng):
        """``X_train, y_train, (X_val, y_val)``: a random ``validation_fraction`` of the rows
        held out, stratified by class for a classifier."""
        n = len(X)
        held = held_out_count(n, cfg.validation_fraction) if n >= 2 else 0
        if held < 2:
            raise ValueError(
                f"early_stopping holds out validation_fraction={cfg.validation_fraction} of the "
                f"{n} samples, which is {held}; it needs at least 2 to score (and 1 left to train "
                "on): raise validation_fraction or give more samples"
            )
        try:
            keep, val = split_indices(
                n, cfg.validation_fraction, rng, stratify=self._strata(target)
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction={cfg.validation_fraction} "
                f"of the samples with every class on both sides: {exc}"
            ) from exc
        return X[keep], target[keep], (X[val], target[val])

    def _restore_optimizer(self, optimizer: Optimizer) -> None:
        """Continue the moments of the previous call, under the current hyper-parameters."""
        state = self._optimizer_state
        if state["type"] != type(optimizer).__name__:
            return  # the solver changed: its update rule starts afresh
        optimizer.load_state_dict({**state, "hyperparameters": optimizer.hyperparameters()})

    def _check_same_network(self, cfg: Config, n_out: int) -> None:
        built = self._architecture
        wanted = (cfg.hidden_layer_sizes, cfg.activation, cfg.dtype, n_out)
        names = ("hidden_layer_sizes", "activation", "dtype", "number of outputs")
        for name, old, new in zip(names, built, wanted):
            if old != new:
                raise ValueError(
                    f"partial_fit and warm_start continue the fitted network, built with "
                    f"{name}={old!r}, but the call asks for {new!r}; call fit with "
                    "warm_start=False to build a new network"
                )

    def _metadata(self, cfg: Config) -> dict[str, Any]:
        return {"estimator": type(self).__name__, "activation": cfg.activation}

    def _predict_raw(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.model_.predict(X)

    # Subclass hooks ---------------------------------------------------------------------------

    def _check_own_params(self) -> None:
        """Check the parameters only a subclass has."""

    def _target_validation(self) -> dict[str, Any]:
        raise NotImplementedError

    def _encode(self, y, *, classes, continuing: bool, first_partial: bool):
        """``(target in the loss's form, number of outputs, fitted attributes it determines)``
        from the validated ``y``; the attributes are set once training has succeeded."""
        raise NotImplementedError

    def _loss(self, n_out: int) -> Loss:
        raise NotImplementedError

    def _loss_scale(self, n_out: int) -> float:
        return 1.0

    def _strata(self, target: np.ndarray) -> np.ndarray | None:
        return None


_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        The widths of the hidden layers; ``()`` gives a linear model.
    activation : {'relu', 'tanh', 'logistic', 'identity', …}, default='relu'
        The hidden layers' activation: scikit-learn's four, or the ``activation_name`` of any
        other handgrad activation (``leaky_relu`` has slope 0.01, ``gelu`` is exact).
    solver : {'adam', 'sgd'}, default='adam'
        handgrad's Adam or SGD; 'lbfgs' is not available.
    alpha : float, default=1e-4
        L2 penalty: ``α/(2n)·Σ‖W‖²`` per batch of n rows, on the weights but not the biases.
    batch_size : int or 'auto', default='auto'
        Rows per step; 'auto' is ``min(200, n_samples)``, and a larger int is cut to n_samples.
    learning_rate_init : float, default=1e-3
        The (constant) learning rate.
    max_iter : int, default=200
        The most epochs ``fit`` runs; ``partial_fit`` runs one.
    shuffle : bool, default=True
        Draw a new order of the rows every epoch.
    random_state : None, int or numpy.random.Generator, default=None
        The source of the initial weights, the validation split and the shuffling.
    tol : float, default=1e-4
        How much the loss (or validation score) must improve to count as an improvement.
    verbose : bool, default=False
        Print one line per epoch (loss, validation figures, time) to standard error.
    warm_start : bool, default=False
        ``fit`` continues from the fitted network instead of building a new one.
    momentum : float in [0, 1], default=0.9
        SGD's momentum.
    nesterovs_momentum : bool, default=True
        Nesterov's variant of SGD's momentum (when momentum > 0).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop on its score, keep the best weights.
    validation_fraction : float in (0, 1), default=0.1
        The share held out with ``early_stopping``.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decays and ε.
    n_iter_no_change : int, default=10
        Stop after more than this many epochs in a row without improvement.
    dtype : numpy.float32 or numpy.float64, default=numpy.float64
        The dtype of the network's weights and of everything it computes.

    Attributes
    ----------
    model_ : handgrad.Sequential
        The trained network (outputs: logits, or the regression values); ``hg.save``,
        ``hg.export_onnx``, ``hg.trace`` and ``hg.diagnose`` take it. ``model_.metadata`` says
        what the outputs mean.
    coefs_, intercepts_ : list of ndarray
        Weights (fan_in, fan_out) and biases (fan_out,) of each Dense layer.
    loss_curve_ : list of float
        The training objective of each epoch (penalty included); ``partial_fit`` appends to it.
    loss_ : float
        Its last value.
    best_loss_ : float or None
        The lowest loss seen by the stopping rule (None with early stopping).
    validation_scores_ : list of float or None
        The held-out score of each epoch, with early stopping.
    best_validation_score_ : float or None
        The best of them; the network ends with that epoch's weights.
    n_iter_ : int
        The epochs in ``loss_curve_``.
    t_ : int
        Training rows seen since the network was built.
    n_features_in_, feature_names_in_ : int, ndarray
        The number (and, for a DataFrame, the names) of the input features.
    n_layers_, n_outputs_ : int
        Layers counting input and output (``len(hidden_layer_sizes) + 2``), and output width.
"""


class MLPClassifier(ClassifierMixin, _MLPBase):
    """A multi-layer perceptron classifier trained by handgrad, with scikit-learn's interface.

    Two classes: one logit, binary cross-entropy; K ≥ 3 classes: K logits, softmax
    cross-entropy. Labels may be of any type NumPy can sort (ints, strings, bools).
    """

    __doc__ = (
        (__doc__ or "")
        + _PARAMETERS_DOC
        + """
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; ``predict_proba``'s columns follow this order.
    out_activation_ : {'logistic', 'softmax'}
        How the logits become probabilities.
    """
    )
    _score_name = "accuracy"

    def fit(self, X, y) -> MLPClassifier:
        """Train a new network on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,)
        (or continue the fitted one with ``warm_start=True``); returns the estimator."""
        return self._train(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None) -> MLPClassifier:
        """One epoch over ``(X, y)``, continuing the network (and the optimizer's state) of the
        previous call. The first call builds the network and needs ``classes``, every label that
        any call will use."""
        return self._train(X, y, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``."""
        z = self._predict_raw(X)
        if z.shape[1] == 1:
            p = sigmoid(z)
            return np.hstack([1 - p, p])
        return softmax(z)

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))``, computed from the logits so that it is finite."""
        z = self._predict_raw(X)
        if z.shape[1] == 1:
            # log σ(z) = −log(1 + e^(−z)) and log(1 − σ(z)) = −log(1 + e^z)
            return -np.hstack([np.logaddexp(0, z), np.logaddexp(0, -z)])
        shifted = z - z.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n_samples,), of the labels' type."""
        z = self._predict_raw(X)
        index = (z[:, 0] > 0).astype(np.intp) if z.shape[1] == 1 else z.argmax(axis=1)
        return self.classes_[index]

    def _target_validation(self) -> dict[str, Any]:
        return {}

    def _encode(self, y, *, classes, continuing, first_partial):
        """Labels as class indices: (n, 1) floats for BCE with two classes, (n,) ints else."""
        check_classification_targets(y)
        if continuing:
            known_classes = self.classes_
            if classes is not None and not np.array_equal(np.unique(classes), known_classes):
                raise ValueError(
                    f"classes must be the classes of the first call, {known_classes.tolist()}, "
                    f"got {np.unique(classes).tolist()}"
                )
        elif first_partial and classes is None:
            raise ValueError(
                "classes must be given on the first call to partial_fit: every label that any "
                "call will use, e.g. classes=np.unique(y_all)"
            )
        else:
            known_classes = np.unique(y if classes is None else np.asarray(classes))
        known = np.isin(y, known_classes)
        if not known.all():
            raise ValueError(
                f"y has labels that are not among the classes {known_classes.tolist()}: "
                f"{np.unique(y[~known]).tolist()}"
            )
        if len(known_classes) < 2:
            raise ValueError(
                f"y has only one class, {known_classes.tolist()}; a classifier needs at least 2"
            )
        codes = np.searchsorted(known_classes, y)
        if len(known_classes) == 2:
            attrs = {"classes_": known_classes, "out_activation_": "logistic"}
            return codes.reshape(-1, 1).astype(np.float64), 1, attrs
        attrs = {"classes_": known_classes, "out_activation_": "softmax"}
        return codes.astype(np.intp), len(known_classes), attrs

    def _loss(self, n_out: int) -> Loss:
        return BCEWithLogitsLoss() if n_out == 1 else CrossEntropyLoss()

    def _strata(self, target):
        return target.ravel()

    def _metadata(self, cfg):
        binary = len(self.classes_) == 2
        return {
            **super()._metadata(cfg),
            "output": "logit of classes[1]" if binary else "logits of classes (softmax)",
            "classes": [_json_label(c) for c in self.classes_.tolist()],
        }


class MLPRegressor(RegressorMixin, _MLPBase):
    """A multi-layer perceptron regressor trained by handgrad, with scikit-learn's interface.

    The network's outputs are the predictions (no output activation); the loss is
    ``½ Σ_j (z_j − y_j)²`` over the k targets, averaged over the rows. ``predict`` returns
    shape (n_samples,) when ``fit`` was given a 1-D ``y`` and (n_samples, k) for a 2-D one.
    """

    __doc__ = (__doc__ or "") + _PARAMETERS_DOC.replace(
        "    hidden_layer_sizes :",
        """    loss : {'squared_error'}, default='squared_error'
        First, as in scikit-learn's signature; its 'poisson' is not available.
    hidden_layer_sizes :""",
        1,
    )
    _score_name = "r2"

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
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
        dtype=np.float64,
    ):
        self.loss = loss
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
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
            dtype=dtype,
        )

    def fit(self, X, y) -> MLPRegressor:
        """Train a new network on ``X`` (n_samples, n_features) and targets ``y`` (n_samples,)
        or (n_samples, k) (or continue the fitted one with ``warm_start=True``)."""
        return self._train(X, y, incremental=False)

    def partial_fit(self, X, y) -> MLPRegressor:
        """One epoch over ``(X, y)``, continuing the network (and the optimizer's state) of the
        previous call; the first call builds the network."""
        return self._train(X, y, incremental=True)

    def predict(self, X) -> np.ndarray:
        """The predicted targets, shape (n_samples,) or (n_samples, k) like ``fit``'s ``y``."""
        z = self._predict_raw(X)
        return z[:, 0] if self._y_1d else z

    def _check_own_params(self) -> None:
        if self.loss != "squared_error":
            raise ValueError(
                f"loss must be 'squared_error' (the only loss available in handgrad), "
                f"got {self.loss!r}"
            )

    def _target_validation(self) -> dict[str, Any]:
        return {"multi_output": True, "y_numeric": True}

    def _encode(self, y, *, classes, continuing, first_partial):
        """Targets as (n, k) floats."""
        target = y.reshape(-1, 1) if y.ndim == 1 else y
        attrs = {} if continuing else {"_y_1d": y.ndim == 1, "out_activation_": "identity"}
        return target.astype(np.float64, copy=False), target.shape[1], attrs

    def _loss(self, n_out: int) -> Loss:
        return MSELoss()

    def _loss_scale(self, n_out: int) -> float:
        return float(n_out)  # MSELoss averages over the n·k elements; the objective sums over k

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _json_label(label: Any) -> Any:
    """A class label as model metadata can hold it (JSON): numbers, strings and bools as they
    are, anything else as its ``str``."""
    return label if isinstance(label, (str, int, float, bool)) else str(label)
