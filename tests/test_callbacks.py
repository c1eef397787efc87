import io
import math

import numpy as np
import pytest

import handgrad as hg


def problem(rng, n=120):
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def mlp(seed=0):
    rng = np.random.default_rng(seed)
    return hg.Sequential([hg.Dense(3, 8, rng=rng), hg.Tanh(), hg.Dense(8, 2, rng=rng)])


class Scripted(hg.Callback):
    """Overwrites the logged figure with a scripted sequence, to drive other callbacks exactly."""

    def __init__(self, key, values):
        self.key, self.values = key, list(values)

    def on_epoch_end(self, run):
        run.logs[self.key] = self.values[run.epoch]


class LRLog(hg.Callback):
    def __init__(self):
        self.lrs = []

    def on_epoch_begin(self, run):
        self.lrs.append(run.optimizer.lr)


def fit(model, X, y, callbacks, epochs=10, lr=0.1, **kw):
    opt = hg.SGD(model.parameters(), lr=lr)
    return model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=opt,
        epochs=epochs,
        batch_size=16,
        seed=0,
        callbacks=callbacks,
        **kw,
    )


def test_early_stopping_stops_after_patience_and_restores_the_best_weights(rng):
    X, y = problem(rng)
    snapshots = []

    class Snap(hg.Callback):
        def on_epoch_end(self, run):
            snapshots.append([p.data.copy() for p in run.model.parameters()])

    losses = [1.0, 0.8, 0.5, 0.6, 0.55, 0.9, 0.4, 0.3]
    stop = hg.EarlyStopping(monitor="loss", patience=3)
    model = mlp()
    history = fit(model, X, y, [Scripted("loss", losses), Snap(), stop])
    assert len(history) == 6  # best at epoch 2, then 3 epochs without improvement
    assert stop.best == 0.5 and stop.best_epoch == 2 and stop.stopped_epoch == 5
    for p, best in zip(model.parameters(), snapshots[2]):
        np.testing.assert_array_equal(p.data, best)


def test_early_stopping_min_delta_and_higher_is_better(rng):
    X, y = problem(rng)
    stop = hg.EarlyStopping(monitor="accuracy", patience=2, min_delta=0.05)
    history = fit(mlp(), X, y, [Scripted("accuracy", [0.5, 0.6, 0.62, 0.64, 0.7, 0.9]), stop])
    assert len(history) == 4 and stop.best == 0.6


def test_early_stopping_needs_validation_for_val_monitors(rng):
    X, y = problem(rng)
    with pytest.raises(ValueError, match="monitors 'val_loss', but fit has no validation data"):
        fit(mlp(), X, y, [hg.EarlyStopping(monitor="val_loss")])
    assert hg.EarlyStopping().monitor is None
    stop = hg.EarlyStopping()
    fit(mlp(), X, y, [stop], epochs=2, validation_split=0.25)
    assert stop.monitor == "val_loss"


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


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: hg.StepLR(0), ValueError, "step_size must be >= 1"),
        (lambda: hg.ExponentialLR(-0.5), ValueError, "gamma must be > 0"),
        (lambda: hg.CosineLR(10, per="minute"), ValueError, "per must be 'epoch' or 'batch'"),
        (lambda: hg.WarmupLR(2, then="cosine"), TypeError, "then must be a learning-rate schedule"),
        (lambda: hg.EarlyStopping(patience=-1), ValueError, "patience must be >= 0"),
        (lambda: hg.EarlyStopping(monitor=3), TypeError, "monitor must be the name"),
        (lambda: hg.Checkpoint("x", every=0), ValueError, "every must be >= 1"),
    ],
)
def test_bad_callback_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_unknown_monitor_is_named(rng):
    X, y = problem(rng)
    with pytest.raises(ValueError, match=r"monitors 'val_acc', which fit does not log; it logs"):
        fit(mlp(), X, y, [hg.EarlyStopping(monitor="val_acc")], validation_split=0.2)


def test_progress_lines_when_not_a_terminal(rng):
    X, y = problem(rng)
    stream = io.StringIO()
    fit(mlp(), X, y, [hg.ProgressBar(verbose=1, stream=stream)], epochs=3, validation_split=0.25)
    text = stream.getvalue()
    lines = text.strip().splitlines()
    assert "\r" not in text and len(lines) == 3
    assert lines[0].startswith("epoch 1/3 - loss ") and " - val_accuracy " in lines[0]


def test_history_records_every_figure(rng):
    X, y = problem(rng)
    history = fit(mlp(), X, y, [], epochs=3, validation_split=0.25)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epochs == [0, 1, 2]
    with pytest.raises(AttributeError, match="History has no 'val_mae'"):
        history.val_mae  # noqa: B018
