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
        ({"X": np.ones((10, 5))}, ValueError, r"Dense\(4→16\) expected 4 input features"),
        ({"X": np.ones(10)}, ValueError, r"X must be a 2-D array \(batch, features\)"),
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
