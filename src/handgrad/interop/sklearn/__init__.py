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

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
