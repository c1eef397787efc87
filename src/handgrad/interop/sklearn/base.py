"""What the two estimators share: their parameters, the training run of ``fit`` and
``partial_fit``, the fitted attributes, and the state a failing call puts back (the overview is
the package's docstring)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ..._validation import make_rng
from ...datasets.splits import held_out_count, split_indices
from ...errors import TrainingDiverged
from ...nn.parameter import Parameter
from ...nn.sequential import Sequential
from ...optim import Optimizer
from .lbfgs import LBFGSDiverged, train_lbfgs
from .network import build_network, is_sparse, raw_output, training_input
from .objective import Objective, biases, make_optimizer, pack_target, weights
from .params import STOCHASTIC, Config, check_params
from .progress import Progress
from .stochastic import train_stochastic

#: What ``validate_data`` accepts for X: scikit-learn's own choices for its MLPs.
X_FORMAT = {"accept_sparse": ["csr", "csc"], "dtype": (np.float64, np.float32)}


def stochastic_solver(est: MLPBase) -> bool:
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

    def __init__(self, est: MLPBase):
        self.attrs = dict(vars(est))
        model = self.attrs.get("model_")
        self.params = [] if model is None else [(p, p.data.copy()) for p in model.parameters()]
        gens = [est.__dict__.get("_rng"), est.random_state]
        self.generators = [
            (g, g.bit_generator.state) for g in gens if isinstance(g, np.random.Generator)
        ]

    def restore(self, est: MLPBase) -> None:
        est.__dict__.clear()
        est.__dict__.update(self.attrs)
        for param, data in self.params:
            param.data[...] = data
        for gen, state in self.generators:
            gen.bit_generator.state = state


class MLPBase(BaseEstimator):
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


PARAMETERS_DOC = """
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
