"""The BLAS threads of fit, evaluate and predict: one by default, as asked, put back after."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import handgrad as hg
from handgrad._threads import blas_threads, check_threads


def blas_counts() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    """BLAS at two threads around the test, whatever the environment set."""
    assert blas_counts(), "NumPy's BLAS should be visible to threadpoolctl"
    with threadpool_limits(limits=2, user_api="blas"):
        assert set(blas_counts()) == {2}
        yield


class Spy(hg.Callback):
    """Records the BLAS thread counts while the epochs run."""

    def __init__(self):
        self.seen = []

    def on_epoch_end(self, run):
        self.seen.append(tuple(blas_counts()))


def problem(rng):
    X = rng.standard_normal((64, 5))
    y = (X[:, 0] > 0).astype(int)
    model = hg.Sequential([hg.Dense(5, 8, rng=rng), hg.ReLU(), hg.Dense(8, 2, rng=rng)])
    return model, X, y


@pytest.mark.parametrize(("threads", "inside"), [("default", 1), (1, 1), (2, 2), (None, 2)])
def test_fit_runs_its_products_on_the_threads_asked_and_puts_them_back(
    threads, inside, two_threads, rng
):
    model, X, y = problem(rng)
    spy = Spy()
    kwargs = {} if threads == "default" else {"threads": threads}
    model.fit(
        X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.1),
        epochs=2, callbacks=[spy], seed=0, **kwargs,
    )  # fmt: skip
    assert spy.seen == [(inside,) * len(blas_counts())] * 2
    assert set(blas_counts()) == {2}


def test_fit_puts_the_threads_back_when_training_fails(two_threads, rng):
    model, X, y = problem(rng)

    class Boom(hg.Callback):
        def on_epoch_end(self, run):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(
            X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.1),
            callbacks=[Boom()],
        )  # fmt: skip
    assert set(blas_counts()) == {2}


def test_predict_and_evaluate_take_threads_too(two_threads, rng, monkeypatch):
    model, X, y = problem(rng)
    seen = []
    forward = model.forward

    def watching(x):
        seen.append(set(blas_counts()))
        return forward(x)

    monkeypatch.setattr(model, "forward", watching)
    one = model.predict(X)
    two = model.predict(X, threads=2)
    assert seen == [{1}, {2}]
    model.evaluate(X, y, loss=hg.CrossEntropyLoss())  # its batches after a one-row shape probe
    assert seen[-1] == {1}
    np.testing.assert_allclose(one, two, rtol=1e-6)
    assert set(blas_counts()) == {2}


def test_the_same_seed_gives_the_same_weights_at_the_same_thread_count(rng):
    def train(threads):
        model, X, y = problem(np.random.default_rng(5))
        model.fit(
            X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.Adam(model.parameters(), lr=0.01),
            epochs=3, batch_size=16, seed=1, threads=threads,
        )  # fmt: skip
        return [p.data.copy() for p in model.parameters()]

    for threads in (1, 2):
        for a, b in zip(train(threads), train(threads), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "threads must be at least 1, got 0"),
        (-2, ValueError, "threads must be at least 1, got -2"),
        (1.5, TypeError, r"threads must be a whole number of threads \(e.g. 1\) or None .*1.5"),
        ("2", TypeError, r"threads must be a whole number.*'2'"),
        (True, TypeError, r"threads must be a whole number.*True"),
    ],
)
def test_bad_thread_counts_are_refused_before_any_work(value, error, message, rng):
    model, X, y = problem(rng)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(error, match=message):
        model.fit(
            X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.1),
            threads=value,
        )  # fmt: skip
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)
    with pytest.raises(error, match=message):
        model.predict(X, threads=value)
    with pytest.raises(error, match=message):
        check_threads(value)


def test_no_limit_leaves_the_library_alone(two_threads):
    with blas_threads(None):
        assert set(blas_counts()) == {2}
    with blas_threads(1):
        assert set(blas_counts()) == {1}
    assert set(blas_counts()) == {2}
