import math

import numpy as np
import pytest
from helpers.train import fit, mlp, problem

import handgrad as hg


class LRLog(hg.Callback):
    def __init__(self):
        self.lrs = []

    def on_epoch_begin(self, run):
        self.lrs.append(run.optimizer.lr)


@pytest.mark.parametrize(
    ("schedule", "formula"),
    [
        (lambda: hg.StepLR(3, gamma=0.5), lambda t: 0.1 * 0.5 ** (t // 3)),
        (lambda: hg.ExponentialLR(0.9), lambda t: 0.1 * 0.9**t),
        (
            lambda: hg.CosineLR(6, min_lr=0.01),
            lambda t: 0.01 + 0.045 * (1 + math.cos(math.pi * min(t, 6) / 6)),
        ),
        (lambda: hg.WarmupLR(4), lambda t: 0.1 * min(t + 1, 4) / 4),
        (
            lambda: hg.WarmupLR(2, then=hg.ExponentialLR(0.5)),
            lambda t: 0.1 * (t + 1) / 2 if t < 2 else 0.1 * 0.5 ** (t - 2),
        ),
    ],
)
def test_schedules_give_the_learning_rates_of_their_formula(schedule, formula, rng):
    X, y = problem(rng)
    log = LRLog()
    history = fit(mlp(), X, y, [schedule(), log], epochs=9)
    expected = [formula(t) for t in range(9)]
    np.testing.assert_allclose(log.lrs, expected, rtol=1e-12)
    np.testing.assert_allclose(history["lr"], expected, rtol=1e-12)


def test_per_batch_schedule_changes_the_rate_every_step(rng):
    X, y = problem(rng, n=64)  # 4 batches of 16
    seen = []

    class Steps(hg.Callback):
        def on_batch_end(self, run):
            seen.append(run.optimizer.lr)

    fit(mlp(), X, y, [hg.WarmupLR(6, per="batch"), Steps()], epochs=2)
    # after step k the rate for step k + 1 is set: 0.1·(k + 2)/6, capped at 0.1
    np.testing.assert_allclose(seen, [0.1 * min(k + 2, 6) / 6 for k in range(8)], rtol=1e-12)
