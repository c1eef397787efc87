import numpy as np
import pytest

import handgrad as hg


def blobs(rng, n=300, classes=3, features=4):
    centers = rng.standard_normal((classes, features)) * 3
    y = rng.integers(0, classes, n)
    return centers[y] + rng.standard_normal((n, features)), y


def mlp(seed, n_in=4, n_out=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return hg.Sequential(
        [
            hg.Dense(n_in, 16, rng=rng, dtype=dtype),
            hg.ReLU(),
            hg.Dense(16, n_out, rng=rng, dtype=dtype),
        ]
    )


class RowSpy(hg.Identity):
    """Records the first column of every training batch (the tests put row numbers there)."""

    def __init__(self):
        self.batches = []

    def forward(self, x):
        if self.training:
            self.batches.append(x[:, 0].astype(int).tolist())
        return super().forward(x)


def test_fit_learns_a_separable_problem(rng):
    X, y = blobs(rng)
    model = mlp(0)
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.Adam(model.parameters(), lr=0.01),
        epochs=30,
        batch_size=32,
        seed=1,
    )
    assert len(history) == 30 and len(history["loss"]) == 30
    assert history.loss[-1] < 0.1 * history.loss[0]
    assert (model.predict(X).argmax(axis=1) == y).mean() > 0.95


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_seed_gives_bit_identical_weights(dtype, rng):
    X, y = blobs(rng)

    def train(seed):
        model = mlp(5, dtype=dtype)
        opt = hg.SGD(model.parameters(), lr=0.05, momentum=0.9)
        model.fit(
            X, y, loss=hg.CrossEntropyLoss(), optimizer=opt, epochs=3, batch_size=16, seed=seed
        )
        return [p.data.copy() for p in model.parameters()]

    a, b, c = train(7), train(7), train(8)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))
    assert a[0].dtype == dtype


def test_batches_are_reshuffled_every_epoch_and_cover_every_row():
    n = 10
    X = np.column_stack([np.arange(n), np.zeros(n)])
    spy = RowSpy()
    model = hg.Sequential([spy, hg.Dense(2, 1, rng=0)])
    model.fit(
        X,
        np.zeros(n),
        loss=hg.MSELoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.01),
        epochs=3,
        batch_size=4,
        seed=0,
    )
    assert [len(b) for b in spy.batches] == [4, 4, 2] * 3
    epochs = [[row for batch in spy.batches[3 * e : 3 * e + 3] for row in batch] for e in range(3)]
    assert all(sorted(order) == list(range(n)) for order in epochs)
    assert epochs[0] != epochs[1] != epochs[2]


def test_shuffle_false_keeps_the_order():
    X = np.column_stack([np.arange(5), np.ones(5)])
    spy = RowSpy()
    model = hg.Sequential([spy, hg.Dense(2, 1, rng=0)])
    model.fit(
        X,
        np.zeros(5),
        loss=hg.MSELoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.01),
        epochs=2,
        batch_size=2,
        shuffle=False,
    )
    assert spy.batches == [[0, 1], [2, 3], [4]] * 2


def test_full_batch_fit_equals_the_loop_written_out(rng):
    X, y = blobs(rng, n=50)
    a, b = mlp(3), mlp(3)
    a.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.SGD(a.parameters(), lr=0.1),
        epochs=4,
        batch_size=50,
        shuffle=False,
    )
    loss, opt = hg.CrossEntropyLoss(), hg.SGD(b.parameters(), lr=0.1)
    for _ in range(4):
        loss.forward(b(X), y)
        b.backward(loss.backward())
        opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-14, atol=1e-15)


def test_history_loss_is_the_sample_weighted_mean_of_batch_losses(rng):
    X, y = blobs(rng, n=10)
    seen = []

    class Record(hg.Callback):
        def on_batch_end(self, run):
            seen.append((run.batch_loss, min(run.batch_size, run.n_samples - run.batch * 4)))

    model = mlp(1)
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        batch_size=4,
        seed=0,
        optimizer=hg.SGD(model.parameters(), lr=0.1),
        callbacks=[Record()],
    )
    assert [size for _, size in seen] == [4, 4, 2]
    expected = sum(v * s for v, s in seen) / 10
    assert history.loss[0] == pytest.approx(expected, rel=1e-15)


def test_callbacks_are_called_in_order_and_can_stop_training(rng):
    X, y = blobs(rng, n=20)
    events = []

    class Log(hg.Callback):
        def on_train_begin(self, run):
            events.append("begin")

        def on_epoch_begin(self, run):
            events.append(f"epoch{run.epoch}")

        def on_batch_end(self, run):
            events.append(f"batch{run.batch}")

        def on_epoch_end(self, run):
            events.append(f"end{run.epoch}:{'loss' in run.logs}")
            run.stop = run.epoch == 1

        def on_train_end(self, run):
            events.append("done")

    model = mlp(1)
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.1),
        epochs=5,
        batch_size=10,
        callbacks=[Log()],
    )
    assert events == [
        "begin",
        "epoch0",
        "batch0",
        "batch1",
        "end0:True",
        "epoch1",
        "batch0",
        "batch1",
        "end1:True",
        "done",
    ]
    assert len(history) == 2


@pytest.mark.parametrize("X_dtype", [np.uint8, np.float64, np.int64])
def test_data_of_another_dtype_trains_a_float32_model_in_float32(X_dtype, rng):
    X = rng.integers(0, 5, (40, 4)).astype(X_dtype)
    y = rng.integers(0, 3, 40)
    model = mlp(0, dtype=np.float32)
    model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.01),
        batch_size=8,
        seed=0,
    )
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    reference = mlp(0, dtype=np.float32)
    reference.fit(
        X.astype(np.float32),
        y,
        loss=hg.CrossEntropyLoss(),
        batch_size=8,
        seed=0,
        optimizer=hg.SGD(reference.parameters(), lr=0.01),
    )
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_fit_does_not_copy_float32_data(rng):
    X = rng.standard_normal((64, 4)).astype(np.float32)
    model = mlp(0, dtype=np.float32)
    model.fit(
        X,
        rng.integers(0, 3, 64),
        loss=hg.CrossEntropyLoss(),
        batch_size=16,
        seed=0,
        optimizer=hg.SGD(model.parameters(), lr=0.01),
    )
    assert model[0]._x.base is not X and model[0]._x.shape == (16, 4)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"y": np.zeros(9, int)},
            ValueError,
            "X and y must have the same number of rows, got 10 and 9",
        ),
        (
            {"X": np.ones((10, 5))},
            ValueError,
            r"X must have 4 features per row \(the network.s first layer takes 4\), got shape "
            r"\(10, 5\)",
        ),
        ({"X": np.ones(10)}, ValueError, r"X must be a batch of rows, shape \(batch, features\)"),
        ({"X": np.full((10, 4), np.inf)}, ValueError, "X must be finite"),
        ({"X": np.ones((0, 4)), "y": np.zeros(0, int)}, ValueError, "X is empty"),
        ({"y": np.full(10, 3)}, ValueError, r"labels must be in \[0, 3\)"),
        ({"y": np.array(["a"] * 10)}, TypeError, "y must be an array of numbers"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"epochs": 0}, ValueError, "epochs must be >= 1, got 0"),
        ({"epochs": 1.5}, TypeError, "epochs must be an integer"),
        ({"loss": "cross_entropy"}, TypeError, "loss must be a Loss such as hg.CrossEntropyLoss()"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be an Optimizer"),
        ({"shuffle": "yes"}, TypeError, "shuffle must be True or False"),
        ({"seed": -1}, ValueError, "seed must be a non-negative seed"),
        ({"callbacks": [print]}, TypeError, "callbacks must be Callback objects"),
    ],
)
def test_bad_input_is_named(kwargs, error, message):
    model = mlp(0)
    args = {
        "X": np.ones((10, 4)),
        "y": np.zeros(10, int),
        "loss": hg.CrossEntropyLoss(),
        "optimizer": hg.SGD(model.parameters(), lr=0.1),
        **kwargs,
    }
    with pytest.raises(error, match=message):
        model.fit(args.pop("X"), args.pop("y"), **args)


def test_an_optimizer_built_for_another_model_is_refused():
    model, other = mlp(0), mlp(1)
    with pytest.raises(
        ValueError, match=r"optimizer does not hold 4 of the model's parameters \(0.weight"
    ):
        model.fit(
            np.ones((4, 4)),
            np.zeros(4, int),
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.SGD(other.parameters(), lr=0.1),
        )


class RowLog(hg.Identity):
    """Records which rows (first column = row number) went through in training and in eval."""

    def __init__(self):
        self.train_rows, self.eval_rows = set(), set()

    def forward(self, x):
        (self.train_rows if self.training else self.eval_rows).update(x[:, 0].astype(int))
        return super().forward(x)


def labelled_rows(n, classes):
    X = np.column_stack([np.arange(n), np.zeros(n)])
    y = np.repeat(np.arange(classes), n // classes)
    return X, y


def split_of(seed, validation_split=0.25, n=80, classes=4):
    X, y = labelled_rows(n, classes)
    spy = RowLog()
    model = hg.Sequential([spy, hg.Dense(2, classes, rng=0)])
    model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.SGD(model.parameters(), lr=1e-3),
        epochs=2,
        batch_size=8,
        seed=seed,
        validation_split=validation_split,
    )
    spy.eval_rows.discard(0)  # fit's probe of the output shape runs row 0 in eval mode
    held = sorted(set(range(n)) - spy.train_rows)
    return held, y


def test_validation_split_is_stratified_seeded_and_not_the_last_rows():
    held, y = split_of(seed=3)
    assert len(held) == 20
    assert np.bincount(y[held]).tolist() == [5, 5, 5, 5]
    assert held != list(range(60, 80))
    assert split_of(seed=3)[0] == held
    assert split_of(seed=4)[0] != held


def test_validation_rows_are_evaluated_and_never_trained_on():
    X, y = labelled_rows(40, 2)
    spy = RowLog()
    model = hg.Sequential([spy, hg.Dense(2, 2, rng=0)])
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        epochs=3,
        batch_size=4,
        seed=0,
        optimizer=hg.SGD(model.parameters(), lr=1e-3),
        validation_split=0.2,
    )
    assert len(spy.train_rows) == 32 and spy.train_rows.isdisjoint(spy.eval_rows - {0})
    assert len(history["val_loss"]) == 3 and len(history["val_accuracy"]) == 3


def test_validation_loss_is_the_loss_of_the_held_out_data(rng):
    X, y = blobs(rng, n=200)
    Xv, yv = blobs(np.random.default_rng(1), n=50)
    model = mlp(0)
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        epochs=2,
        seed=0,
        optimizer=hg.SGD(model.parameters(), lr=0.1),
        validation_data=(Xv, yv),
    )
    scores = model.evaluate(Xv, yv, loss=hg.CrossEntropyLoss())
    assert history["val_loss"][-1] == pytest.approx(scores["loss"], rel=1e-12)
    assert history["val_accuracy"][-1] == scores["accuracy"]
    logits = model.predict(Xv)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert scores["loss"] == pytest.approx(-np.log(p[np.arange(50), yv]).mean(), rel=1e-12)
    assert scores["accuracy"] == (logits.argmax(1) == yv).mean()


def test_regression_logs_mae_and_r2(rng):
    X = rng.standard_normal((100, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1
    model = mlp(0, n_out=1)
    history = model.fit(
        X,
        y,
        loss=hg.MSELoss(),
        optimizer=hg.Adam(model.parameters(), lr=0.01),
        epochs=60,
        validation_split=0.2,
        seed=0,
    )
    assert {"mae", "r2", "val_mae", "val_r2"} <= set(history.history)
    assert history["val_r2"][-1] > 0.9 and history["val_mae"][-1] < history["val_mae"][0]


def test_fit_keeps_the_model_mode(rng):
    X, y = blobs(rng, n=20)
    model = mlp(0).eval()
    model.fit(X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.1))
    assert not model.training


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"validation_split": 1.0}, ValueError, r"validation_split must be in \(0, 1\), got 1.0"),
        (
            {"validation_split": 0.2, "validation_data": (np.ones((2, 4)), np.zeros(2, int))},
            ValueError,
            "give validation_data or validation_split, not both",
        ),
        ({"validation_data": np.ones((2, 4))}, TypeError, "validation_data must be a pair"),
        (
            {"validation_data": (np.ones((2, 3)), np.zeros(2, int))},
            ValueError,
            r"validation_data X must have rows like X, shape \(n, 4\), got \(2, 3\)",
        ),
        (
            {"validation_data": (np.ones((2, 4)), np.zeros(3, int))},
            ValueError,
            "validation_data X and validation_data y must have the same number of rows",
        ),
        ({"verbose": 3}, ValueError, "verbose must be 0, 1 or 2, got 3"),
        ({"metrics": ["auc"]}, ValueError, "metrics must be 'auto', None, or a list"),
    ],
)
def test_bad_validation_and_options(kwargs, error, message):
    model = mlp(0)
    with pytest.raises(error, match=message):
        model.fit(
            np.ones((10, 4)),
            np.zeros(10, int),
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.SGD(model.parameters(), lr=0.1),
            **kwargs,
        )


def test_evaluate_validates_its_input():
    with pytest.raises(ValueError, match=r"X and y must have the same number of rows"):
        mlp(0).evaluate(np.ones((3, 4)), np.zeros(2, int), loss=hg.CrossEntropyLoss())
    with pytest.raises(TypeError, match="loss must be a Loss"):
        mlp(0).evaluate(np.ones((3, 4)), np.zeros(3, int), loss="ce")
