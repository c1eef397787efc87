"""scikit-learn estimators trained by handgrad: ``MLPClassifier`` and ``MLPRegressor``.

>>> from handgrad.sklearn import MLPClassifier                     # doctest: +SKIP
>>> clf = MLPClassifier((64,), random_state=0).fit(X, y)          # doctest: +SKIP
>>> clf.predict_proba(X_new), clf.model_                          # doctest: +SKIP

They take the parameters of scikit-learn's own ``MLPClassifier``/``MLPRegressor``, with its
defaults, give its attributes, pass its estimator checks, and work in ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``. Training is handgrad's: the network is a
:class:`~handgrad.Sequential` (``model_`` after fitting, to save, export or trace), trained by
:func:`handgrad.fit` (``"sgd"``, ``"adam"``) or by SciPy's L-BFGS-B on handgrad's gradient
(``"lbfgs"``). This module imports scikit-learn (``pip install 'handgrad[sklearn]'``);
``import handgrad`` does not.

The network
-----------
``hidden_layer_sizes = (h₁, …, h_L)`` and ``activation = f`` build
``Dense(n_features→h₁), f, …, Dense(h_{L-1}→h_L), f, Dense(h_L→n_out)``, which ends in raw
outputs z; the output function ``out_activation_`` turns them into predictions:

=============  =====  ===============  =================================================
task           n_out  out_activation_  predict_proba;  predict
=============  =====  ===============  =================================================
2 classes      1      logistic         [1 − σ(z), σ(z)];  classes_[1] if z > 0
K ≥ 3 classes  K      softmax          softmax(z);  classes_[argmax z]
k labels       k      logistic         σ(z) per label;  the indicator matrix z > 0
k targets      k      identity         —;  z (``loss="squared_error"``)
k targets      k      exp              —;  e^z (``loss="poisson"``)
=============  =====  ===============  =================================================

The loss of each, its sample weights and the L2 penalty are in :mod:`.objective`. As
scikit-learn does, two classes get one logit and binary cross-entropy (the same objective as two
logits and softmax, with half the output weights), and a 0/1 indicator matrix y (multilabel)
gets one sigmoid output per label. Weights and biases start as scikit-learn's do, drawn from
``U(±√(6 / (fan_in + fan_out)))`` (``√(2 / …)`` for ``logistic``), layer by layer: where the
default 200 epochs stop short of convergence, as on the small data sets, the start shows in the
score.

The network computes in X's dtype, as scikit-learn's does: float32 X gives float32 weights and
outputs, anything else float64 (``dtype=`` fixes one instead). A scipy sparse X (CSR or CSC,
others are converted to CSR) is never made dense: its rows meet the first layer's weights as a
sparse-by-dense product (:mod:`.network`).

Solvers
-------
``"adam"`` is :class:`handgrad.Adam` with ``betas = (beta_1, beta_2)``, ``eps = epsilon``; it
divides by ``√v̂ + ε`` with the bias-corrected v̂ where scikit-learn divides by ``√v + ε``, so the
two differ by ε's weight alone. ``"sgd"`` is scikit-learn's rule, which keeps the velocity
``v ← μ·v − η·g`` (:class:`.objective.VelocitySGD`; ``momentum``, Nesterov's variant with
``nesterovs_momentum``), under its ``learning_rate`` schedules (``"constant"``, ``"invscaling"``
with ``power_t``, ``"adaptive"``); its steps are scikit-learn's. Each step descends the
objective on one batch, and ``loss_curve_[e]`` is the row-weighted mean of the batches'
objectives in epoch e. ``"lbfgs"`` minimises the objective over all rows at once with SciPy's
L-BFGS-B (:mod:`.lbfgs`), bounded by ``max_iter`` and ``max_fun``, stopping at ``tol``;
``loss_curve_`` then holds the objective after each iteration (scikit-learn keeps none for
lbfgs), and ``t_`` does not grow.

Stopping
--------
scikit-learn's rule, and its learning-rate schedules, after every epoch (:mod:`.stochastic`):
without ``early_stopping``, an epoch counts as no improvement when ``loss > best_loss − tol``;
with it, when the score (accuracy, or R², weighted by the sample weights) on a held-out
``validation_fraction`` of the rows is ``< best + tol``, and the weights of the best score are
restored at the end. Training stops when more than ``n_iter_no_change`` epochs in a row did not
improve (never with ``np.inf``), or with SGD and ``learning_rate="adaptive"`` divides the rate
by 5 instead, and warns (``ConvergenceWarning``) when ``max_iter`` epochs ran without stopping.
The held-out rows are drawn with :func:`handgrad.datasets.splits.split_indices` (stratified by
class, except for multilabel targets), ``round(validation_fraction · n)`` of them.

A warm start and ``partial_fit`` continue the record, as scikit-learn's do (:mod:`.progress`);
``partial_fit`` also continues the optimizer's moments and SGD's scheduled rate. ``verbose``
prints scikit-learn's lines (``Iteration 1, loss = 0.69314718``) to standard output.

Failures
--------
A call that raises leaves the estimator exactly as it was: its attributes, weights, random
state and optimizer state. Training that diverges (the loss or a gradient overflows or becomes
NaN) raises ``ValueError``, as scikit-learn's does.

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
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ..._validation import make_rng
from ...datasets.splits import held_out_count, split_indices
from ...errors import TrainingDiverged
from ...nn.activations import sigmoid, softmax
from ...nn.parameter import Parameter
from ...nn.sequential import Sequential
from ...optim import Optimizer
from .lbfgs import LBFGSDiverged, train_lbfgs
from .network import build_network, is_sparse, raw_output, training_input
from .objective import Objective, biases, make_optimizer, pack_target, weights
from .params import STOCHASTIC, Config, check_params
from .progress import Progress
from .stochastic import train_stochastic

__all__ = ["MLPClassifier", "MLPRegressor"]

#: What ``validate_data`` accepts for X: scikit-learn's own choices for its MLPs.
X_FORMAT = {"accept_sparse": ["csr", "csc"], "dtype": (np.float64, np.float32)}


def _stochastic_solver(est: _MLPBase) -> bool:
    """``partial_fit`` exists for the stochastic solvers only (``hasattr`` says so)."""
    if est.solver not in STOCHASTIC:
        raise AttributeError(
            f"partial_fit is available with the stochastic solvers 'sgd' and 'adam', not with "
            f"solver={est.solver!r}"
        )
    return True


class _LayerArrays(list):
    """``coefs_`` or ``intercepts_``: the network's arrays themselves, in a list; assigning an
    item (``est.coefs_[0] = W``) copies the values into the network."""

    def __init__(self, params: list[Parameter], name: str):
        super().__init__(p.data for p in params)
        self._params = params
        self._name = name

    def __setitem__(self, index, value) -> None:
        if isinstance(index, slice):
            raise TypeError(f"assign {self._name} items one at a time, or the whole list")
        _assign(self._params[index], value, f"{self._name}[{index}]")
        super().__setitem__(index, self._params[index].data)


def _assign(param: Parameter, value: Any, name: str) -> None:
    arr = np.asarray(value)
    if arr.shape != param.data.shape:
        raise ValueError(
            f"{name} must have shape {param.data.shape}, the fitted network's, got {arr.shape}"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    param.data[...] = arr


def _assign_all(params: list[Parameter], values: Any, name: str) -> None:
    values = list(values)
    if len(values) != len(params):
        raise ValueError(
            f"{name} must be a list of {len(params)} arrays (one per layer), got {len(values)}"
        )
    for i, (param, value) in enumerate(zip(params, values)):
        _assign(param, value, f"{name}[{i}]")


class _Snapshot:
    """An estimator's state before a call, to put back if the call raises: its attributes, its
    network's weights and its random generators' states."""

    def __init__(self, est: _MLPBase):
        self.attrs = dict(vars(est))
        model = self.attrs.get("model_")
        self.params = [] if model is None else [(p, p.data.copy()) for p in model.parameters()]
        gens = [est.__dict__.get("_rng"), est.random_state]
        self.generators = [
            (g, g.bit_generator.state) for g in gens if isinstance(g, np.random.Generator)
        ]

    def restore(self, est: _MLPBase) -> None:
        est.__dict__.clear()
        est.__dict__.update(self.attrs)
        for param, data in self.params:
            param.data[...] = data
        for gen, state in self.generators:
            gen.bit_generator.state = state


class _MLPBase(BaseEstimator):
    """What the two estimators share: parameters, the training run, the fitted attributes.

    A subclass says how targets become the objective's ``Y`` and output function (``_encode``),
    how the held-out rows are scored, and how outputs become predictions.
    """

    def __init__(
        self,
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun
        self.dtype = dtype

    # Fitted attributes that are views of the network ---------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, ``coefs_[l]`` of shape (fan_in, fan_out), as scikit-learn lays
        them out: the arrays the network computes with, not copies. Assigning the list, or one
        item, copies the values into the network (the shapes must be the fitted ones)."""
        check_is_fitted(self, "model_")
        return _LayerArrays(weights(self.model_), "coefs_")

    @coefs_.setter
    def coefs_(self, values) -> None:
        check_is_fitted(self, "model_")
        _assign_all(weights(self.model_), values, "coefs_")

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors, ``intercepts_[l]`` of shape (fan_out,); assignable as ``coefs_``."""
        check_is_fitted(self, "model_")
        return _LayerArrays(biases(self.model_), "intercepts_")

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        check_is_fitted(self, "model_")
        _assign_all(biases(self.model_), values, "intercepts_")

    # Training ---------------------------------------------------------------------------------

    def _train(self, X, y, sample_weight, *, incremental: bool, classes=None):
        """``fit`` (``incremental=False``) or ``partial_fit``: one training run.

        The run works on the network and a copy of the record; the fitted attributes are written
        only once it has succeeded, and a run that raises puts back everything it touched.
        """
        cfg = check_params(self)
        self._check_own_params()
        if incremental and cfg.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: it trains on the data it is "
                "given, one epoch per call; set early_stopping=False"
            )
        before = _Snapshot(self)
        try:
            stopped, result = self._run(cfg, X, y, sample_weight, incremental, classes)
        except (TrainingDiverged, LBFGSDiverged) as exc:
            before.restore(self)
            raise ValueError(self._diverged(cfg, exc)) from None
        except BaseException:
            before.restore(self)
            raise
        if cfg.stochastic and not incremental and not stopped and self.n_iter_ == cfg.max_iter:
            warnings.warn(
                f"{type(self).__name__} ran max_iter={cfg.max_iter} epochs and the optimisation "
                "has not converged yet; raise max_iter or learning_rate_init, or relax tol",
                ConvergenceWarning,
                stacklevel=3,
            )
        if result is not None and result.status != 0:
            warnings.warn(
                f"{type(self).__name__} with solver='lbfgs' stopped after {self.n_iter_} "
                f"iterations without converging (status {result.status}: {result.message}); "
                "raise max_iter or max_fun, or scale X",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _run(self, cfg: Config, X, y, sample_weight, incremental: bool, classes):
        """Everything of ``_train`` that may fail; returns whether the stopping rule ended
        training, and SciPy's result for lbfgs (None otherwise)."""
        fitted = hasattr(self, "model_")
        continuing = fitted and (incremental or cfg.warm_start)  # the same network goes on
        resuming = fitted and incremental  # the same optimizer state and random stream too
        X, y = validate_data(
            self, X, y, reset=not continuing, multi_output=True, **X_FORMAT, **self._y_format()
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if is_sparse(X):
            X = X.tocsr()  # rows are gathered, so row-major
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        Y, output, attrs = self._encode(
            y,
            classes=classes,
            continuing=continuing,
            first_partial=incremental and not fitted,
            warm_start=cfg.warm_start and not incremental,
        )
        rng = self._rng if resuming else make_rng(self.random_state, "random_state")
        if continuing:
            self._check_same_network(cfg, Y.shape[1], output)
            model = self.model_
        else:
            dtype = cfg.dtype if cfg.dtype is not None else X.dtype
            model = build_network(
                X.shape[1], cfg.hidden_layer_sizes, Y.shape[1], cfg.activation, dtype, rng
            )
        progress = self._progress(cfg, model, continuing)
        target = pack_target(Y, sample_weight)
        optimizer, stopped, result = None, False, None
        if cfg.solver == "lbfgs":
            X = X.astype(model.dtype, copy=False)  # once, for every pass over all the rows
            net, inputs = training_input(model, X)
            objective = Objective(output, net, weights(model), cfg.alpha)
            result = train_lbfgs(cfg, net, model, inputs, target, objective, progress)
        else:
            train_rows, validation = np.arange(X.shape[0]), None
            if cfg.early_stopping:
                train_rows, held = self._hold_out(X.shape[0], Y, output, cfg, rng)
                validation = (X[held], Y[held], sample_weight[held])
            X_train = X[train_rows] if validation is not None else X
            net, inputs = training_input(model, X_train)
            objective = Objective(output, net, weights(model), cfg.alpha)
            optimizer = make_optimizer(cfg, net, objective)
            if resuming:
                self._restore_optimizer(cfg, optimizer)
            score = None
            if validation is not None:
                score = self._scorer(model, output, *validation)
            stopped = train_stochastic(
                cfg,
                net,
                inputs,
                target[train_rows] if validation is not None else target,
                objective,
                optimizer,
                rng,
                progress,
                score,
                epochs=1 if incremental else cfg.max_iter,
            )
        loss = None if result is None else float(result.fun)
        self._record(cfg, attrs, model, optimizer, rng, progress, output, loss)
        return stopped, result

    def _progress(self, cfg: Config, model: Sequential, continuing: bool) -> Progress:
        """The record this call continues (a warm start, ``partial_fit``) or starts."""
        early = cfg.early_stopping and cfg.stochastic
        params = model.parameters()
        if not continuing:
            return Progress.start(early, params)
        progress = Progress(
            loss_curve=list(self.loss_curve_),
            best_loss=self.best_loss_,
            validation_scores=None
            if self.validation_scores_ is None
            else list(self.validation_scores_),
            best_validation_score=self.best_validation_score_,
            best_params=self._best_params,
            no_improvement_count=self._no_improvement_count,
            t=self.t_,
            learning_rate=self._learning_rate,
        )
        if early and not progress.early:
            progress.early_mode(params)
        elif not early and progress.early:
            progress.loss_mode()
        return progress

    def _record(self, cfg, attrs, model, optimizer, rng, progress, output, loss) -> None:
        """Write the fitted attributes of a training run that has succeeded."""
        for name, value in attrs.items():
            setattr(self, name, value)
        self.model_ = model
        self.model_.metadata = self._metadata(cfg)
        self._rng = rng
        self._optimizer_state = None if optimizer is None else optimizer.state_dict()
        self._architecture = (cfg.hidden_layer_sizes, cfg.activation, output, model[-1].n_out)
        self.loss_curve_ = progress.loss_curve
        self.loss_ = loss if loss is not None else progress.loss_curve[-1]
        self.best_loss_ = progress.best_loss
        self.validation_scores_ = progress.validation_scores
        self.best_validation_score_ = progress.best_validation_score
        self._best_params = progress.best_params
        self._no_improvement_count = progress.no_improvement_count
        self._learning_rate = progress.learning_rate
        self.n_iter_ = progress.n_iter
        self.t_ = progress.t
        self.n_layers_ = len(cfg.hidden_layer_sizes) + 2
        self.n_outputs_ = model[-1].n_out

    def _hold_out(self, n: int, Y: np.ndarray, output: str, cfg: Config, rng):
        """``(train_rows, held_out_rows)``: a random ``validation_fraction`` of the rows held
        out, stratified by class for a classifier of single labels."""
        held = held_out_count(n, cfg.validation_fraction) if n >= 2 else 0
        if held < 2:
            raise ValueError(
                f"early_stopping holds out validation_fraction={cfg.validation_fraction} of the "
                f"{n} samples, which is {held}; it needs at least 2 to score (and 1 left to train "
                "on): raise validation_fraction or give more samples"
            )
        try:
            return split_indices(n, cfg.validation_fraction, rng, stratify=self._strata(Y, output))
        except ValueError as exc:
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction={cfg.validation_fraction} "
                f"of the samples with every class on both sides: {exc}"
            ) from exc

    def _scorer(self, model: Sequential, output: str, X_val, Y_val, w_val):
        """The score of the held-out rows for the network as it is now: NaN when an output is
        not finite (as scikit-learn's), or when the held-out weights sum to 0."""

        def score() -> float:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                z = raw_output(model, X_val)
            if not np.isfinite(z).all() or not w_val.sum() > 0:
                return float("nan")
            return float(self._score_outputs(z, Y_val, w_val, output))

        return score

    def _restore_optimizer(self, cfg: Config, optimizer: Optimizer) -> None:
        """Continue the moments of the previous call, under the current hyper-parameters, and a
        scheduled SGD rate where it had come to."""
        state = self._optimizer_state
        if state is None or state["type"] != type(optimizer).__name__:
            return  # the solver changed: its update rule starts afresh
        optimizer.load_state_dict({**state, "hyperparameters": optimizer.hyperparameters()})
        if cfg.schedule != "constant" and self._learning_rate is not None:
            optimizer.lr = self._learning_rate

    def _check_same_network(self, cfg: Config, n_out: int, output: str) -> None:
        built = self._architecture
        wanted = (cfg.hidden_layer_sizes, cfg.activation, output, n_out)
        names = ("hidden_layer_sizes", "activation", "output function", "number of outputs")
        if cfg.dtype is not None and cfg.dtype != self.model_.dtype:
            built, wanted = (*built, self.model_.dtype), (*wanted, cfg.dtype)
            names = (*names, "dtype")
        for name, old, new in zip(names, built, wanted):
            if old != new:
                raise ValueError(
                    f"partial_fit and warm_start continue the fitted network, built with "
                    f"{name}={old!r}, but the call asks for {new!r}; call fit with "
                    "warm_start=False to build a new network"
                )

    def _diverged(self, cfg: Config, exc: Exception) -> str:
        if isinstance(exc, TrainingDiverged):
            where = f"at epoch {exc.epoch + 1}, batch {exc.batch + 1}: {exc.reason}"
        else:
            where = f"with solver='lbfgs': {exc}"
        return (
            f"{type(self).__name__} diverged {where}. The estimator is left as it was before "
            "this call; lower learning_rate_init or alpha, or scale X (e.g. with StandardScaler)"
        )

    def _metadata(self, cfg: Config) -> dict[str, Any]:
        return {"estimator": type(self).__name__, "activation": cfg.activation}

    def _predict_raw(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, **X_FORMAT)
        if not is_sparse(X):
            return self.model_.predict(X)
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                return raw_output(self.model_, X)
        except FloatingPointError as exc:
            raise ValueError(
                f"X is out of range for this network: computing its outputs gave {exc}"
            ) from None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # Subclass hooks ---------------------------------------------------------------------------

    def _check_own_params(self) -> None:
        """Check the parameters only a subclass has."""

    def _y_format(self) -> dict[str, Any]:
        raise NotImplementedError

    def _encode(self, y, *, classes, continuing: bool, first_partial: bool, warm_start: bool):
        """``(Y, output function, fitted attributes it determines)`` from the validated ``y``:
        Y has one column per network output; the attributes are set once training has
        succeeded."""
        raise NotImplementedError

    def _strata(self, Y: np.ndarray, output: str) -> np.ndarray | None:
        """The label of each row, to stratify the held-out rows by (None: not stratified)."""
        return None

    def _score_outputs(self, z: np.ndarray, Y: np.ndarray, w: np.ndarray, output: str) -> float:
        """The held-out score of raw outputs z against Y, weighted by w."""
        raise NotImplementedError


_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        The widths of the hidden layers; ``()`` gives a linear model.
    activation : {'relu', 'tanh', 'logistic', 'identity', …}, default='relu'
        The hidden layers' activation: scikit-learn's four, or the ``activation_name`` of any
        other handgrad activation (``leaky_relu`` has slope 0.01, ``gelu`` is exact).
    solver : {'adam', 'sgd', 'lbfgs'}, default='adam'
        handgrad's Adam or SGD on mini-batches, or SciPy's L-BFGS-B on all rows at once.
    alpha : float, default=1e-4
        L2 penalty: ``α/(2S)·Σ‖W‖²`` per batch of total sample weight S (its number of rows
        when unweighted), on the weights but not the biases.
    batch_size : int or 'auto', default='auto'
        Rows per step; 'auto' is ``min(200, n_samples)``, and a larger int is cut to n_samples
        (with a warning). Not used by lbfgs.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        SGD's schedule: constant; ``learning_rate_init / (t_ + 1)^power_t`` after each epoch;
        or divided by 5 whenever more than ``n_iter_no_change`` epochs did not improve.
    learning_rate_init : float, default=1e-3
        The (initial) learning rate of SGD and Adam.
    power_t : float, default=0.5
        The exponent of 'invscaling'.
    max_iter : int, default=200
        The most epochs ``fit`` runs (``partial_fit`` runs one), or lbfgs's most iterations.
    shuffle : bool, default=True
        Draw a new order of the rows every epoch.
    random_state : None, int or numpy.random.Generator, default=None
        The source of the initial weights, the validation split and the shuffling.
    tol : float, default=1e-4
        How much the loss (or validation score) must improve to count as an improvement; for
        lbfgs, the largest projected-gradient component at which it stops.
    verbose : bool, default=False
        Print scikit-learn's lines (``Iteration 1, loss = 0.69314718``, the validation score,
        why training stopped) to standard output.
    warm_start : bool, default=False
        ``fit`` continues from the fitted network (and its record) instead of building a new
        one; ``y`` must have the classes of the fitted network.
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
    n_iter_no_change : int or np.inf, default=10
        Stop after more than this many epochs in a row without improvement (np.inf: never).
    max_fun : int, default=15000
        lbfgs's most evaluations of the objective.
    dtype : None, numpy.float32 or numpy.float64, default=None
        The dtype of the network's weights and of everything it computes; None follows X
        (float32 X stays float32, anything else is float64).

    Attributes
    ----------
    model_ : handgrad.Sequential
        The trained network (outputs: logits, or the regression values before
        ``out_activation_``); ``hg.save``, ``hg.export_onnx``, ``hg.trace`` and ``hg.diagnose``
        take it. ``model_.metadata`` says what the outputs mean.
    coefs_, intercepts_ : list of ndarray
        Weights (fan_in, fan_out) and biases (fan_out,) of each Dense layer; assignable.
    loss_curve_ : list of float
        The training objective of each epoch (penalty included), or of each lbfgs iteration; a
        warm start and ``partial_fit`` append to it.
    loss_ : float
        The objective at the end of the last call.
    best_loss_ : float or None
        The lowest loss seen by the stopping rule (None with early stopping).
    validation_scores_ : list of float or None
        The held-out score of each epoch, with early stopping.
    best_validation_score_ : float or None
        The best of them; the network ends with that epoch's weights.
    n_iter_ : int
        The epochs (lbfgs: iterations) the last call ran.
    t_ : int
        Training rows seen by the stochastic solvers since the network was built.
    n_features_in_, feature_names_in_ : int, ndarray
        The number (and, for a DataFrame, the names) of the input features.
    n_layers_, n_outputs_ : int
        Layers counting input and output (``len(hidden_layer_sizes) + 2``), and output width.
    out_activation_ : str
        The output function: 'logistic', 'softmax', 'identity' or 'exp'.
"""


class MLPClassifier(ClassifierMixin, _MLPBase):
    """A multi-layer perceptron classifier trained by handgrad, with scikit-learn's interface.

    Two classes: one logit, binary cross-entropy; K ≥ 3 classes: K logits, softmax
    cross-entropy; a 0/1 indicator matrix y of k labels: k logits, binary cross-entropy summed
    over the labels. Labels may be of any type NumPy can sort (ints, strings, bools).
    """

    __doc__ = (
        (__doc__ or "")
        + _PARAMETERS_DOC
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

    @available_if(_stochastic_solver)
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


class MLPRegressor(RegressorMixin, _MLPBase):
    """A multi-layer perceptron regressor trained by handgrad, with scikit-learn's interface.

    With ``loss="squared_error"`` the network's outputs are the predictions and the loss is
    ``½ Σ_j (z_j − y_j)²`` over the k targets; with ``loss="poisson"`` the predictions are
    ``e^z`` and the loss is half the Poisson deviance (y ≥ 0). ``predict`` returns shape
    (n_samples,) for one target and (n_samples, k) for k.
    """

    __doc__ = (__doc__ or "") + _PARAMETERS_DOC.replace(
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

    @available_if(_stochastic_solver)
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


def _json_label(label: Any) -> Any:
    """A class label as model metadata can hold it (JSON): numbers, strings and bools as they
    are, anything else as its ``str``."""
    return label if isinstance(label, (str, int, float, bool)) else str(label)
