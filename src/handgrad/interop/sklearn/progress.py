"""What one call of ``fit`` or ``partial_fit`` records, and hands on to the next call.

scikit-learn keeps its record in the estimator's attributes and continues it on a warm start and
on ``partial_fit``: ``loss_curve_`` and ``validation_scores_`` grow, ``best_loss_``,
``best_validation_score_``, the count of epochs without improvement and the samples seen (``t_``)
carry on, and with early stopping the best weights found so far stay the ones to return to.
``n_iter_`` alone counts the epochs (or L-BFGS iterations) of the call that just ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...nn.parameter import Parameter


@dataclass
class Progress:
    """The record a call works on; the estimator writes it to its attributes on success.

    ``best_loss`` is None in early-stopping mode and ``validation_scores`` /
    ``best_validation_score`` / ``best_params`` are None otherwise, as scikit-learn's attributes.
    """

    loss_curve: list[float] = field(default_factory=list)
    best_loss: float | None = math.inf
    validation_scores: list[float] | None = None
    best_validation_score: float | None = None
    best_params: list[np.ndarray] | None = None
    no_improvement_count: int = 0
    t: int = 0
    n_iter: int = 0
    #: SGD's learning rate at the end of the call (a schedule's), which ``partial_fit`` continues.
    learning_rate: float | None = None

    @classmethod
    def start(cls, early_stopping: bool, params: list[Parameter]) -> Progress:
        """A new network's record: with early stopping, its initial weights are the best so far
        until an epoch scores better than −∞."""
        progress = cls()
        if early_stopping:
            progress.early_mode(params)
        return progress

    def early_mode(self, params: list[Parameter]) -> None:
        """Switch the record to early stopping (keeping the loss curve and ``t``)."""
        self.best_loss = None
        self.validation_scores = []
        self.best_validation_score = -math.inf
        self.best_params = [p.data.copy() for p in params]
        self.no_improvement_count = 0

    def loss_mode(self) -> None:
        """Switch the record to stopping on the training loss."""
        self.best_loss = math.inf
        self.validation_scores = self.best_validation_score = self.best_params = None
        self.no_improvement_count = 0

    @property
    def early(self) -> bool:
        return self.validation_scores is not None
