import pytest
from helpers.train import fit, mlp, problem


def test_history_records_every_figure(rng):
    X, y = problem(rng)
    history = fit(mlp(), X, y, [], epochs=3, validation_split=0.25)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epochs == [0, 1, 2]
    with pytest.raises(AttributeError, match="History has no 'val_mae'"):
        history.val_mae  # noqa: B018
