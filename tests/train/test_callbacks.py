import io

import numpy as np
import pytest
from helpers.train import fit, mlp, problem

import handgrad as hg


class Scripted(hg.Callback):
    """Overwrites the logged figure with a scripted sequence, to drive other callbacks exactly."""

    def __init__(self, key, values):
        self.key, self.values = key, list(values)

    def on_epoch_end(self, run):
        run.logs[self.key] = self.values[run.epoch]


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


def test_the_notebook_bar_is_drawn_in_place_and_only_in_a_kernel(monkeypatch):
    from handgrad.train import callbacks

    assert not callbacks.in_notebook_kernel()  # pytest is no Jupyter kernel
    drawn: list[list[str]] = []

    texts: list[str] = []

    def show(html, text):
        drawn.append([html])
        texts.append(text)

        def update(html, text):
            drawn[-1].append(html)
            texts.append(text)

        return update

    monkeypatch.setattr(callbacks, "in_notebook_kernel", lambda: True)
    monkeypatch.setattr(callbacks, "notebook_display", lambda: show)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((100, 3)), rng.integers(0, 2, 100)
    model = hg.Sequential([hg.Dense(3, 2, rng=0)])
    history = model.fit(
        X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.1),
        epochs=2, batch_size=10, verbose=1,
    )  # fmt: skip
    assert len(drawn) == 2  # one bar per epoch, each redrawn in place
    first, last = drawn[0][0], drawn[0][-1]
    assert first.startswith('<div class="hg-progress">') and 'value="0" max="10"' in first
    assert 'value="10" max="10"' in last and "epoch 1/2 · 10/10 batches" in last
    assert f"loss {history.loss[0]:.4f}" in last
    assert len(drawn[0]) == 1 + 10 + 1  # drawn, then after each batch, then with the figures
    assert texts[len(drawn[0]) - 1].startswith("epoch 1/2 · 10/10 batches · loss ")
