"""The stochastic solvers, ``"sgd"`` and ``"adam"``: handgrad's ``fit`` with scikit-learn's
bookkeeping after every epoch.

After each epoch, in scikit-learn's order:

1. the epoch's loss joins ``loss_curve_``, ``t_`` grows by the training rows, and with
   ``verbose`` the line ``Iteration 3, loss = 0.12345678`` is printed to standard output;
2. with early stopping the held-out rows are scored (accuracy or R², weighted by their sample
   weights; NaN when an output is not finite) and ``Validation score: 0.975000`` printed. The
   epoch counts as no improvement when ``score < best + tol`` (without early stopping: when
   ``loss > best_loss − tol``); an improvement sets the count to 0, and a better score keeps a
   copy of the weights;
3. with SGD and ``learning_rate="invscaling"`` the next rate is
   ``η = learning_rate_init / (t_ + 1)^power_t``;
4. when more than ``n_iter_no_change`` epochs in a row did not improve, training stops, except
   with SGD and ``learning_rate="adaptive"``, which instead divides η by 5 and starts counting
   again, and stops only once η ≤ 1e-6. ``n_iter_no_change=np.inf`` never stops.

With early stopping the weights of the best score are put back at the end (they may come from an
earlier warm-start call whose score no epoch of this one beat).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from ...nn.layer import Layer
from ...optim import Optimizer
from ...train.run import Callback
from .objective import Objective
from .params import Config
from .progress import Progress

#: Below this rate, the adaptive schedule stops instead of dividing it again.
SMALLEST_ADAPTIVE_RATE = 1e-6


class EpochRule(Callback):
    """The numbered steps of the module docstring, as a callback of ``fit``."""

    in_checkpoint = False

    def __init__(
        self,
        cfg: Config,
        progress: Progress,
        n_train: int,
        optimizer: Optimizer,
        score: Callable[[], float] | None,
    ):
        self.cfg = cfg
        self.progress = progress
        self.n_train = n_train
        self.optimizer = optimizer
        self.score = score
        self.stopped = False

    def on_epoch_end(self, run) -> None:
        cfg, p = self.cfg, self.progress
        loss = float(run.logs["loss"])
        p.loss_curve.append(loss)
        p.n_iter += 1
        p.t += self.n_train
        self._say(f"Iteration {p.n_iter}, loss = {loss:.8f}")
        if self.score is not None:
            score = self.score()
            p.validation_scores.append(score)
            self._say(f"Validation score: {score:f}")
            # NaN compares false both ways: the count restarts and the best stays
            p.no_improvement_count = (
                p.no_improvement_count + 1 if score < p.best_validation_score + cfg.tol else 0
            )
            if score > p.best_validation_score:
                p.best_validation_score = score
                p.best_params = [q.data.copy() for q in run.model.parameters()]
        else:
            worse = loss > p.best_loss - cfg.tol
            p.no_improvement_count = p.no_improvement_count + 1 if worse else 0
            p.best_loss = min(p.best_loss, loss)
        opt = self.optimizer
        if cfg.schedule == "invscaling":
            opt.lr = cfg.learning_rate_init / (p.t + 1) ** cfg.power_t
        if p.no_improvement_count > cfg.n_iter_no_change:
            what = "Validation score" if self.score is not None else "Training loss"
            why = (
                f"{what} did not improve more than tol={cfg.tol:f} for "
                f"{cfg.n_iter_no_change:d} consecutive epochs."
            )
            if cfg.schedule != "adaptive":
                self._say(why + " Stopping.")
                self.stopped = run.stop = True
            elif opt.lr <= SMALLEST_ADAPTIVE_RATE:
                self._say(why + " Learning rate too small. Stopping.")
                self.stopped = run.stop = True
            else:
                opt.lr /= 5
                p.no_improvement_count = 0
                self._say(why + f" Setting learning rate to {opt.lr:f}")
        p.learning_rate = opt.lr

    def _say(self, line: str) -> None:
        if self.cfg.verbose:
            print(line, flush=True)


def train_stochastic(
    cfg: Config,
    net: Layer,
    X,
    target: np.ndarray,
    objective: Objective,
    optimizer: Optimizer,
    rng: np.random.Generator,
    progress: Progress,
    score: Callable[[], float] | None,
    epochs: int,
) -> bool:
    """Run ``epochs`` epochs of ``fit`` (fewer if the rule stops it) on ``(X, target)``;
    returns whether the rule stopped training. ``progress`` is updated in place, and with early
    stopping the network ends with its best weights. A ``KeyboardInterrupt`` ends training as
    scikit-learn's does: with a warning, keeping what the epochs so far recorded."""
    n = len(X)
    if cfg.batch_size is None:
        batch_size = min(200, n)
    else:
        if cfg.batch_size > n:
            warnings.warn(
                f"batch_size={cfg.batch_size} is larger than the {n} training samples; every "
                f"step uses all {n}",
                UserWarning,
                stacklevel=4,
            )
        batch_size = min(cfg.batch_size, n)
    rule = EpochRule(cfg, progress, n, optimizer, score)
    try:
        net.fit(
            X,
            target,
            loss=objective,
            optimizer=optimizer,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=cfg.shuffle,
            seed=rng,
            metrics=None,
            callbacks=[rule],
        )
    except KeyboardInterrupt:
        warnings.warn("training was interrupted by the user", UserWarning, stacklevel=4)
    if progress.early and progress.best_params is not None:
        for param, best in zip(net.parameters(), progress.best_params):
            param.data[...] = best
    return rule.stopped
