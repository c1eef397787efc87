"""The bad-input matrix: every public entry point against every kind of bad input.

Each case must raise ValueError or TypeError (or ModelFileError for files) whose message names the
argument, says what was expected, and shows what came; the test asserts the message. The command
line's share of the matrix is in tests/cli/.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from reliability import record

import handgrad as hg


def mlp():
    rng = np.random.default_rng(0)
    return hg.Sequential([hg.Dense(3, 4, rng=rng), hg.ReLU(), hg.Dense(4, 2, rng=rng)])


X = np.arange(18.0).reshape(6, 3) / 10
Y = np.array([0, 1, 0, 1, 1, 0])


def with_nan(a):
    a = np.array(a, dtype=float)
    a.flat[4 % a.size] = np.nan
    return a


def with_inf(a):
    a = np.array(a, dtype=float)
    a.flat[1] = np.inf
    return a


# Each data entry takes (X, y) and calls one public function with them.
DATA_ENTRIES: dict[str, Callable] = {
    "fit": lambda X, y: (m := mlp()).fit(
        X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(m.parameters(), lr=0.1)
    ),
    "evaluate": lambda X, y: mlp().evaluate(X, y, loss=hg.CrossEntropyLoss()),
    "trace": lambda X, y: hg.trace(mlp(), X, y, hg.CrossEntropyLoss()),
    "diagnose": lambda X, y: hg.diagnose(mlp(), X, y, hg.CrossEntropyLoss()),
    "gradcheck": lambda X, y: hg.gradcheck(mlp(), X, hg.CrossEntropyLoss(), y),
    "loss.forward": lambda X, y: hg.CrossEntropyLoss().forward(mlp()(X), y),
}
X_ONLY_ENTRIES: dict[str, Callable] = {
    "predict": lambda X: mlp().predict(X),
    "forward": lambda X: mlp()(X),
    "Dense.forward": lambda X: hg.Dense(3, 4, rng=0).forward(X),
}

# (description, X, y, error type, regex on the message).
# For X-only entries the y column is ignored and only X cases apply.
DATA_CASES = [
    (
        "NaN in X",
        with_nan(X),
        Y,
        ValueError,
        r"must be finite, got a NaN or infinite value at index",
    ),
    (
        "inf in X",
        with_inf(X),
        Y,
        ValueError,
        r"must be finite, got a NaN or infinite value at index",
    ),
    ("NaN in y", X, with_nan(Y), ValueError, r"must be finite"),
    ("inf in y", X, with_inf(Y), ValueError, r"must be finite"),
    ("1-D X", X[:, 0], Y, ValueError, r"got shape \(6,\)"),
    ("3-D X", X[:, :, None], Y, ValueError, r"got shape \(6, 3, 1\)"),
    (
        "too few features",
        X[:, :2],
        Y,
        ValueError,
        r"3 (input )?features.*got shape \(6, 2\)",
    ),
    ("mismatched lengths", X, Y[:4], ValueError, r"6.* 4|must have the same number of rows"),
    ("empty X", X[:0], Y[:0], ValueError, r"empty"),
    ("object X", X.astype(object), Y, TypeError, r"must be an array of numbers, got dtype object"),
    ("complex X", X.astype(complex), Y, TypeError, r"must hold real numbers, got complex dtype"),
    ("string X", X.astype(str), Y, TypeError, r"must be an array of numbers, got dtype <U"),
    ("ragged X", [[1.0, 2.0, 3.0], [1.0]], Y[:2], TypeError, r"must be an array of numbers, got"),
    ("string y", X, Y.astype(str), TypeError, r"must be an array of numbers, got dtype <U"),
    ("object y", X, Y.astype(object), TypeError, r"must be an array of numbers, got dtype object"),
    (
        "label outside the classes",
        X,
        Y + 5,
        ValueError,
        r"labels must be in \[0, 2\) for 2 logits per row, got 5",
    ),
    ("negative label", X, Y - 1, ValueError, r"labels must be in \[0, 2\) .*got -1"),
    ("fractional labels", X, Y + 0.5, ValueError, r"class labels must be integers"),
    (
        "target of the wrong width",
        X,
        np.ones((6, 3)) / 3,
        ValueError,
        r"integer labels \(n,\) or one-hot rows \(n, 2\), got shape \(6, 3\)",
    ),
    ("scalar target", X, np.array(1), ValueError, r"scalar"),
]
# Layers check type and shape; finiteness is checked where data enter a network (layers.py).
LAYER_SKIPS = {"NaN in X", "inf in X"}
X_CASES = {
    "NaN in X",
    "inf in X",
    "1-D X",
    "3-D X",
    "too few features",
    "object X",
    "complex X",
    "string X",
    "ragged X",
}


@dataclass
class Case:
    entry: str
    call: Callable
    error: type
    pattern: str


def cases():
    out = []
    for entry, fn in DATA_ENTRIES.items():
        for name, x, y, error, pattern in DATA_CASES:
            if entry in ("gradcheck", "loss.forward") and name == "empty X":
                pattern = r"empty|at least one"
            out.append(
                pytest.param(
                    Case(entry, lambda fn=fn, x=x, y=y: fn(x, y), error, pattern),
                    id=f"{entry}: {name}",
                )
            )
    for entry, fn in X_ONLY_ENTRIES.items():
        for name, x, _, error, pattern in DATA_CASES:
            if name in X_CASES and not (entry == "Dense.forward" and name in LAYER_SKIPS):
                out.append(
                    pytest.param(
                        Case(entry, lambda fn=fn, x=x: fn(x), error, pattern), id=f"{entry}: {name}"
                    )
                )
    return out


@pytest.mark.parametrize("case", cases())
def test_bad_data(case):
    with pytest.raises(case.error, match=case.pattern) as info:
        case.call()
    assert "\n" not in str(info.value).strip()
    record("bad inputs refused", 1)


def fit_with(**kwargs):
    model = mlp()
    opt = kwargs.pop("optimizer", None) or hg.SGD(model.parameters(), lr=0.1)
    return model.fit(X, Y, loss=kwargs.pop("loss", hg.CrossEntropyLoss()), optimizer=opt, **kwargs)


P = [hg.Parameter(np.ones(2))]


def fit_with_data(X, y):
    model = mlp()
    return model.fit(X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.1))


def tied(dense):
    """A second Dense holding the first one's weight Parameter."""
    other = hg.Dense(3, 3)
    other.weight = dense.weight
    return other


HYPERPARAMETERS = [
    ("SGD lr=0", lambda: hg.SGD(P, lr=0), ValueError, r"lr must be > 0, got 0"),
    ("SGD lr=-1", lambda: hg.SGD(P, lr=-1), ValueError, r"lr must be > 0, got -1"),
    ("SGD lr=nan", lambda: hg.SGD(P, lr=float("nan")), ValueError, r"lr must be finite, got nan"),
    (
        "SGD lr='0.1'",
        lambda: hg.SGD(P, lr="0.1"),
        TypeError,
        r"lr must be a real number, got '0.1'",
    ),
    (
        "SGD momentum<0",
        lambda: hg.SGD(P, lr=0.1, momentum=-0.5),
        ValueError,
        r"momentum must be >= 0, got -0.5",
    ),
    (
        "SGD weight_decay<0",
        lambda: hg.SGD(P, lr=0.1, weight_decay=-1),
        ValueError,
        r"weight_decay must be >= 0, got -1",
    ),
    (
        "Adam beta1=1",
        lambda: hg.Adam(P, betas=(1.0, 0.9)),
        ValueError,
        r"betas\[0\] must be in \[0, 1\), got 1.0",
    ),
    ("Adam eps<0", lambda: hg.Adam(P, eps=-1.0), ValueError, r"eps must be >= 0, got -1.0"),
    ("AdamW lr=0", lambda: hg.AdamW(P, lr=0), ValueError, r"lr must be > 0, got 0"),
    ("RMSprop alpha=2", lambda: hg.RMSprop(P, alpha=2), ValueError, r"alpha must be in \[0, 1\]"),
    (
        "optimizer of arrays",
        lambda: hg.SGD([np.ones(2)], lr=0.1),
        TypeError,
        r"params\[0\] must be a Parameter, got an array",
    ),
    ("optimizer of nothing", lambda: hg.SGD([], lr=0.1), ValueError, r"params is empty"),
    ("batch_size=0", lambda: fit_with(batch_size=0), ValueError, r"batch_size must be >= 1, got 0"),
    (
        "batch_size=2.5",
        lambda: fit_with(batch_size=2.5),
        TypeError,
        r"batch_size must be an integer, got 2.5",
    ),
    ("epochs=0", lambda: fit_with(epochs=0), ValueError, r"epochs must be >= 1, got 0"),
    (
        "validation_split=1.5",
        lambda: fit_with(validation_split=1.5),
        ValueError,
        r"validation_split must be in \(0, 1\), got 1.5",
    ),
    (
        "gradient_clip=0",
        lambda: fit_with(gradient_clip=0),
        ValueError,
        r"gradient_clip must be > 0, got 0",
    ),
    ("seed='x'", lambda: fit_with(seed="x"), TypeError, r"seed must be None, an int seed or"),
    ("verbose=5", lambda: fit_with(verbose=5), ValueError, r"verbose must be 0, 1 or 2, got 5"),
    ("loss as a string", lambda: fit_with(loss="mse"), TypeError, r"loss must be a Loss"),
    (
        "optimizer of another model",
        lambda: fit_with(optimizer=hg.SGD(mlp().parameters(), lr=0.1)),
        ValueError,
        r"optimizer does not hold 4 of the model's parameters",
    ),
    (
        "optimizer holding another model's parameters too",
        lambda: (m := mlp()).fit(
            X, Y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(m.parameters() + P, lr=0.1)
        ),
        ValueError,
        r"optimizer holds 1 parameters that are not the model's \(shapes \(2,\)\): fit would "
        r"change them too",
    ),
    (
        "one layer twice",
        lambda: hg.Sequential([d := hg.Dense(3, 3), hg.ReLU(), d]),
        ValueError,
        r"layers: Dense\(3→3\) appears twice in the network, at layers\[0\] and layers\[2\]",
    ),
    (
        "one activation twice",
        lambda: hg.Sequential([a := hg.ReLU(), hg.Dense(3, 3), a]),
        ValueError,
        r"layers: ReLU\(\) appears twice in the network, at layers\[0\] and layers\[2\]",
    ),
    (
        "one Parameter in two layers",
        lambda: hg.Sequential([d := hg.Dense(3, 3), tied(d)]),
        ValueError,
        r"layers: the parameters 0.weight and 1.weight are one Parameter object",
    ),
    (
        "masked X",
        lambda: fit_with_data(np.ma.masked_greater(X, 1.5), Y),
        TypeError,
        r"X is a masked array with 2 masked values, and handgrad would ignore the mask",
    ),
    (
        "masked y",
        lambda: fit_with_data(X, np.ma.masked_equal(Y, 0)),
        TypeError,
        r"y is a masked array with 3 masked values",
    ),
    (
        "accuracy on regression targets",
        lambda: mlp().evaluate(X, X[:, :2], loss=hg.MSELoss(), metrics=["accuracy"]),
        ValueError,
        r"metrics: accuracy counts correct classes, but the targets of MSELoss are numbers, "
        r"not classes \(such as 0.1\); use 'mae' or 'r2'",
    ),
    (
        "evaluate on values that overflow",
        lambda: mlp().evaluate(X * 1e200, np.eye(2)[Y], loss=hg.MSELoss(), metrics=None),
        ValueError,
        r"X is out of range for this network: "
        r"(computing its outputs gave overflow|its loss is inf)",
    ),
    ("Dense n_in=0", lambda: hg.Dense(0, 3), ValueError, r"n_in must be >= 1, got 0"),
    (
        "Dense dtype=int",
        lambda: hg.Dense(2, 3, dtype=int),
        TypeError,
        r"dtype must be np.float32 or np.float64, got int64",
    ),
    ("Dropout p=1", lambda: hg.Dropout(1.0), ValueError, r"p must be in \[0, 1\), got 1.0"),
    ("LeakyReLU alpha<0", lambda: hg.LeakyReLU(-0.1), ValueError, r"alpha must be >= 0, got -0.1"),
    (
        "predict batch_size=0",
        lambda: mlp().predict(X, batch_size=0),
        ValueError,
        r"batch_size must be >= 1, got 0",
    ),
    (
        "gradcheck eps=0",
        lambda: hg.gradcheck(mlp(), X, eps=0),
        ValueError,
        r"eps must be > 0, got 0",
    ),
    (
        "gradcheck float32",
        lambda: hg.gradcheck(hg.Dense(3, 2, dtype=np.float32), X),
        ValueError,
        r"gradcheck needs float64 parameters, but weight is float32",
    ),
    (
        "trace lr<0",
        lambda: hg.trace(mlp(), X, Y, hg.CrossEntropyLoss(), lr=-1),
        ValueError,
        r"lr must be > 0, got -1",
    ),
    (
        "trace of a layer",
        lambda: hg.trace(hg.Dense(3, 2), X, Y, hg.CrossEntropyLoss()),
        TypeError,
        r"model must be a hg.Sequential, got a Dense",
    ),
    (
        "validation split of one sample",
        lambda: mlp().fit(
            X[:1],
            Y[:1],
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.SGD(mlp().parameters(), lr=0.1),
            validation_split=0.5,
        ),
        ValueError,
        r"optimizer does not hold|validation_split needs at least 2 samples",
    ),
    (
        "MSE target of the wrong shape",
        lambda: hg.MSELoss().forward(np.ones((6, 2)), np.ones((6, 3))),
        ValueError,
        r"MSELoss expected a target of shape \(n, 2\) like the predictions \(6, 2\)",
    ),
    (
        "BCE target above 1",
        lambda: hg.BCEWithLogitsLoss().forward(np.ones((2, 1)), [0.0, 3.0]),
        ValueError,
        r"BCEWithLogitsLoss target must be in \[0, 1\], got values from 0.0 to 3.0",
    ),
    (
        "save a layer",
        lambda: hg.save(hg.Dense(2, 2), "m.safetensors"),
        TypeError,
        r"model must be a Sequential, got a Dense",
    ),
    ("load a number", lambda: hg.load(3.5), TypeError, r"path must be a file path, got 3.5"),
]


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [pytest.param(c, e, p, id=name) for name, c, e, p in HYPERPARAMETERS],
)
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert "\n" not in str(info.value).strip()
    record("bad inputs refused", 1)


def test_one_sample_trains():
    model = mlp()
    history = model.fit(
        X[:1],
        Y[:1],
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.SGD(model.parameters(), lr=0.1),
        epochs=3,
    )
    assert len(history) == 3 and np.isfinite(history.loss).all()
    assert model.predict(X[:1]).shape == (1, 2)


def test_a_split_of_one_sample_is_refused():
    model = mlp()
    with pytest.raises(ValueError, match="validation_split needs at least 2 samples, got 1"):
        model.fit(
            X[:1],
            Y[:1],
            loss=hg.CrossEntropyLoss(),
            validation_split=0.5,
            optimizer=hg.SGD(model.parameters(), lr=0.1),
        )


# Convolution, pooling and normalisation --------------------------------------------------------


def cnn():
    return hg.Sequential(
        [hg.Conv2D(1, 4, 3, padding=1, rng=0), hg.ReLU(), hg.MaxPool2D(2), hg.Flatten(),
         hg.Dense(16, 2, rng=1)]
    )  # fmt: skip


IMAGES = np.random.default_rng(0).random((6, 4, 4, 1))
CNN_CASES = [
    (
        "fit: flat rows into a convolution",
        lambda: (m := cnn()).fit(
            IMAGES.reshape(6, 16),
            Y,
            loss=hg.CrossEntropyLoss(),
            optimizer=hg.SGD(m.parameters(), lr=0.1),
        ),
        ValueError,
        r"X must have rows of shape \(any, any, 1\) .*got shape \(6, 16\)",
    ),
    (
        "predict: wrong channel count",
        lambda: cnn().predict(np.ones((6, 4, 4, 3))),
        ValueError,
        r"X must have rows of shape \(any, any, 1\) .*got shape \(6, 4, 4, 3\)",
    ),
    (
        "Conv2D: wrong rank, with the Reshape to add",
        lambda: hg.Conv2D(1, 16, 3)(np.ones((128, 784))),
        ValueError,
        r"Conv2D\(1→16, 3×3\) expected input \(batch, height, width, 1\), got shape \(128, 784\): "
        r"add hg\.Reshape\(\(28, 28, 1\)\) in front",
    ),
    (
        "Conv2D: wrong channel count",
        lambda: hg.Conv2D(3, 2, 3)(np.ones((2, 5, 5, 1))),
        ValueError,
        r"Conv2D\(3→2, 3×3\) expected input \(batch, height, width, 3\) with 3 channels",
    ),
    (
        "Conv2D: kernel larger than the padded input (an empty output)",
        lambda: hg.Conv2D(1, 2, 5, padding=1)(np.ones((2, 2, 2, 1))),
        ValueError,
        r"its 5×5 kernel is larger than the padded input \(4×4\), so the output would be empty",
    ),
    ("Conv2D: stride 0", lambda: hg.Conv2D(1, 2, 3, stride=0), ValueError, r"stride must be >= 1"),
    (
        "Conv2D: negative padding",
        lambda: hg.Conv2D(1, 2, 3, padding=(1, -1)),
        ValueError,
        r"padding must be >= 0, got \(1, -1\)",
    ),
    (
        "Conv2D: same with a stride",
        lambda: hg.Conv2D(1, 2, 3, stride=2, padding="same"),
        ValueError,
        r"padding='same' keeps the size only at stride 1, got stride \(2, 2\)",
    ),
    (
        "Conv1D: wrong rank",
        lambda: hg.Conv1D(1, 2, 3)(np.ones((2, 4, 4, 1))),
        ValueError,
        r"Conv1D\(1→2, 3\) expected input \(batch, length, 1\), got shape \(2, 4, 4, 1\)",
    ),
    (
        "MaxPool2D: window larger than the input",
        lambda: hg.MaxPool2D(3)(np.ones((1, 2, 2, 1))),
        ValueError,
        r"MaxPool2D\(3×3\) got input of shape \(1, 2, 2, 1\): its window is larger",
    ),
    (
        "BatchNorm: one value per feature in training",
        lambda: hg.BatchNorm(4)(np.ones((1, 4))),
        ValueError,
        r"BatchNorm\(4\) needs more than one value per feature in training mode",
    ),
    (
        "Reshape: rows of another size",
        lambda: hg.Reshape((28, 28, 1))(np.ones((2, 780))),
        ValueError,
        r"Reshape\(\(28, 28, 1\)\) expected rows of 784 values, got shape \(2, 780\)",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "pattern"), [c[1:] for c in CNN_CASES], ids=[c[0] for c in CNN_CASES]
)
def test_bad_input_to_the_cnn_layers(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert "\n" not in str(info.value).strip()
    record("bad inputs refused", 1)
