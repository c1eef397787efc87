"""The layer contract: a layer of your own, train and eval modes, pickling."""

import numpy as np
import pytest

import handgrad as hg


class Scale(hg.Layer):
    """A user-written layer: y = x ⊙ s, with a parameter s of shape (features,)."""

    def __init__(self, n):
        self.s = hg.Parameter(np.linspace(0.5, 1.5, n))

    def forward(self, x):
        self._x = x
        return x * self.s.data

    def backward(self, grad_out):
        self.s.grad[...] = (grad_out * self._x).sum(axis=0)
        return grad_out * self.s.data


def test_user_layer_works_without_registration(rng):
    layer = Scale(3)
    assert layer.parameters() == [layer.s]
    assert hg.gradcheck(layer, rng.standard_normal((4, 3))).passed
    model = hg.Sequential([hg.Dense(2, 3, rng=0), Scale(3), hg.Dense(3, 1, rng=1)])
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight",
        "0.bias",
        "1.s",
        "2.weight",
        "2.bias",
    ]
    before = model[1].s.data.copy()
    X, y = rng.standard_normal((32, 2)), rng.standard_normal(32)
    history = model.fit(
        X,
        y,
        loss=hg.MSELoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.05),
        epochs=20,
        batch_size=8,
        seed=0,
    )
    assert not np.array_equal(model[1].s.data, before)
    assert history["loss"][-1] < history["loss"][0]


def test_layer_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="must implement forward"):
        hg.Layer()(np.ones((1, 1)))


def test_train_and_eval_modes():
    layer = hg.Dense(2, 2)
    assert layer.training
    assert layer.eval() is layer and not layer.training
    assert layer.train().training


def test_a_pickled_model_loaded_read_only_still_predicts(tmp_path, rng):
    import pickle

    model = hg.Sequential(
        [hg.Dense(3, 4, rng=0), hg.ReLU(), hg.Dropout(0.1, rng=0), hg.Dense(4, 2)]
    )
    X = rng.standard_normal((5, 3))
    expected = model.predict(X)
    model.fit(
        X,
        np.zeros(5, int),
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.0001),
    )
    clone = pickle.loads(pickle.dumps(model))
    assert "_scratch_buffers" not in vars(clone[1]) and clone[0].__dict__.get("_x") is None
    for p in clone.parameters():
        p.data.setflags(write=False)  # what a memory-mapped load gives
    np.testing.assert_allclose(clone.predict(X), model.predict(X))
    assert expected.shape == (5, 2)


# State, shapes and chunks -----------------------------------------------------------------------


class Counter(hg.Layer):
    """A layer with state: it counts the rows it has seen in training."""

    def __init__(self):
        self.seen = hg.State(np.zeros(1))

    def forward(self, x):
        if self.training:
            self.seen.data += len(x)
        return x.copy()

    def backward(self, grad_out):
        return grad_out.copy()


def test_state_is_found_as_parameters_are_and_is_no_parameter():
    model = hg.Sequential([hg.Dense(2, 2, rng=0), Counter()])
    assert [n for n, _ in model.named_state()] == ["1.seen"]
    assert all(not isinstance(p, hg.State) for p in model.parameters())
    assert list(model.named_state(recurse=False)) == []


def test_gradcheck_gives_the_state_back(rng):
    layer = Counter()
    hg.gradcheck(layer, rng.standard_normal((3, 2)))
    np.testing.assert_array_equal(layer.seen.data, [0])


def test_input_shape_from_the_old_input_features_method():
    class Old(hg.Layer):
        def input_features(self):
            return 7

    assert Old().input_shape() == (7,)
    assert hg.Dense(3, 2).input_shape() == (3,) and hg.Dense(3, 2).input_features() == 3
    assert hg.Conv2D(3, 4, 3).input_shape() == (None, None, 3)
    assert hg.Conv2D(3, 4, 3).input_features() is None


def test_chunk_rows_bound_the_memory_of_one_chunk():
    from handgrad.nn.layer import CHUNK_BYTES, MAX_CHUNK_ROWS, chunk_rows

    f32 = np.float32
    mlp = hg.Sequential([hg.Dense(784, 256, dtype=f32), hg.ReLU(), hg.Dense(256, 10, dtype=f32)])
    assert chunk_rows(mlp, np.zeros((1, 784), np.float32)) == MAX_CHUNK_ROWS
    cnn = hg.Sequential([hg.Conv2D(1, 16, 3, padding=1, dtype=np.float32), hg.ReLU()])
    # its output holds 28·28·16 = 12,544 float32 values a row
    assert chunk_rows(cnn, np.zeros((1, 28, 28, 1), np.float32)) == CHUNK_BYTES // (12544 * 4)


def test_check_rows_names_what_the_first_layer_takes():
    from handgrad.nn.layer import check_rows

    check_rows(hg.Conv2D(1, 2, 3), (5, 9, 9, 1), "X")
    with pytest.raises(ValueError, match=r"X must have rows of shape \(any, any, 3\)"):
        check_rows(hg.Conv2D(3, 2, 3), (5, 9, 9, 1), "X")
    with pytest.raises(ValueError, match="X must have 3 features per row"):
        check_rows(hg.Dense(3, 2), (5, 4), "X")


def test_worked_element_helpers():
    from handgrad.nn.layer import index_text, number, sum_of_products

    assert index_text((0, slice(2, 5), slice(None), 3)) == "[0, 2:5, :, 3]"
    assert number(-0.0) == "0" and number(1 / 3) == "0.3333333"
    assert sum_of_products([1, 2], [3, 4]) == "1·3 + 2·4"
    long = sum_of_products(np.ones(10), np.arange(10))
    assert long.startswith("1·0 + 1·1 + 1·2 + … (10 products in all) … + 1·7")


def test_prepared_scratch_is_prepared_again_after_another_shape():
    layer = hg.Layer()
    calls = []

    def prepare(a):
        calls.append(a.shape)
        a.fill(0)

    a = layer._prepared_scratch("pad", (2, 3), float, prepare)
    a[...] = 5
    assert layer._prepared_scratch("pad", (2, 3), float, prepare) is a
    layer._prepared_scratch("pad", (3, 2), float, prepare)[...] = 7
    again = layer._prepared_scratch("pad", (2, 3), float, prepare)
    np.testing.assert_array_equal(again, 0)
    assert calls == [(2, 3), (3, 2), (2, 3)]
