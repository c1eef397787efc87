"""The network the estimators build, and how dense or sparse rows of X go through it.

A dense X goes to handgrad's ``fit`` as it is. A scipy sparse X is never made dense as a whole:
``fit`` is handed the rows' *numbers* instead, and the network it trains starts with
:class:`SparseRows`, which gathers those rows of the CSR matrix and multiplies them, sparse, by
the first Dense layer's weights (the same Parameter objects, so ``model_`` is what is trained).
"""

from __future__ import annotations

import itertools

import numpy as np

from ...nn.dense import Dense
from ...nn.layer import Layer
from ...nn.sequential import Sequential
from .params import activation_layer

#: The bound of the initial weights and biases is √(factor / (fan_in + fan_out)), as in
#: scikit-learn: Glorot's uniform factor 6, narrowed to 2 for the logistic activation.
INIT_FACTOR = {"logistic": 2.0}
#: Row numbers travel as two columns, ``hi·2²² + lo``, each exact in float32.
ROW_BITS = 22
#: Rows per forward pass when predicting from sparse rows.
PREDICT_BATCH = 4096


def build_network(
    n_in: int,
    hidden_layer_sizes: tuple[int, ...],
    n_out: int,
    activation: str,
    dtype: np.dtype,
    rng: np.random.Generator,
) -> Sequential:
    """``Dense(n_in→h₁), f, …, Dense(h_L→n_out)``, started as scikit-learn starts its MLPs:
    layer by layer, the weights and then the biases drawn from ``U(−a, a)`` with
    ``a = √(6 / (fan_in + fan_out))`` (``√(2 / …)`` for ``logistic``), from ``rng`` in order."""
    make_activation = activation_layer(activation)
    factor = INIT_FACTOR.get(activation, 6.0)
    widths = (n_in, *hidden_layer_sizes, n_out)
    layers: list[Layer] = []
    for fan_in, fan_out in itertools.pairwise(widths):
        dense = Dense(fan_in, fan_out, init="zeros", dtype=dtype)
        bound = np.sqrt(factor / (fan_in + fan_out))
        dense.weight.data[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
        dense.bias.data[...] = rng.uniform(-bound, bound, fan_out)
        layers += [dense, make_activation()]
    return Sequential(layers[:-1])  # no activation after the output layer


def is_sparse(X) -> bool:
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def encode_rows(rows: np.ndarray) -> np.ndarray:
    """Row numbers as rows ``(hi, lo)`` of a float array, ``number = hi·2²² + lo``: each part
    below 2²⁴, so exact in float32 as in float64, for up to 2⁴⁶ rows."""
    rows = np.asarray(rows, dtype=np.int64)
    return np.stack([rows >> ROW_BITS, rows & ((1 << ROW_BITS) - 1)], axis=1).astype(np.float64)


def decode_rows(codes: np.ndarray) -> np.ndarray:
    """The row numbers of :func:`encode_rows`, from its columns in any float dtype."""
    hi = codes[:, 0].astype(np.int64)
    return (hi << ROW_BITS) | codes[:, 1].astype(np.int64)


def row_codes(n: int) -> np.ndarray:
    """The numbers 0 … n−1, encoded."""
    return encode_rows(np.arange(n))


class SparseRows(Layer):
    """A Dense layer fed the rows of a sparse matrix by their numbers.

    ``forward(codes)`` takes a batch of row numbers (:func:`row_codes`) and, for the CSR matrix X
    these number, gathers ``X_B = X[rows]`` and returns::

        Z = X_B · W + b              (batch, n_out)

    with the W and b of ``dense``. Backward, with ``dZ = dL/dZ``::

        dW = X_Bᵀ · dZ               (n_in, n_out), a sparse-by-dense product
        db = 1ᵀ · dZ                 (n_out,)

    Row numbers are not differentiable: ``backward`` gives zeros for them, and a network that
    starts with this layer runs ``backward_params``, which computes no input gradient anyway.
    """

    _transient = ("_rows",)

    def __init__(self, X, dense: Dense):
        self.X = X
        self.weight = dense.weight
        self.bias = dense.bias
        self.n_out = dense.n_out
        self._rows = None

    def forward(self, codes: np.ndarray) -> np.ndarray:
        X_B = self.X[decode_rows(codes)]
        Z = np.asarray(X_B @ self.weight.data)
        Z += self.bias.data
        self._rows = X_B
        return Z

    def backward_params(self, grad_out: np.ndarray) -> None:
        X_B = self._cached("_rows")
        dZ = self._check_grad_out(grad_out, (X_B.shape[0], self.n_out), self.weight.data.dtype)
        self.weight.grad[...] = X_B.T @ dZ  # dW = X_Bᵀ · dZ
        np.sum(dZ, axis=0, out=self.bias.grad)  # db = 1ᵀ · dZ

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self.backward_params(grad_out)
        return np.zeros((self._rows.shape[0], 2), dtype=self.weight.data.dtype)

    def input_features(self) -> int:
        return 2  # the two columns of a row number

    def __repr__(self) -> str:
        return f"SparseRows({self.X.shape[1]}→{self.n_out})"


def training_input(model: Sequential, X) -> tuple[Sequential, np.ndarray]:
    """``(network to train, what fit takes as X)``: ``(model, X)`` for a dense X; for a sparse
    one, ``model`` with its first layer fed by :class:`SparseRows`, and the row numbers."""
    if not is_sparse(X):
        return model, X
    first = SparseRows(X.tocsr().astype(model.dtype), model.layers[0])
    return Sequential([first, *model.layers[1:]]), row_codes(X.shape[0])


def raw_output(model: Sequential, X) -> np.ndarray:
    """The network's outputs (before the output function) for every row of a dense or sparse X,
    in evaluation mode, ``PREDICT_BATCH`` rows at a time; the caller sets NumPy's error
    handling. A sparse X meets the first layer's weights as a sparse-by-dense product."""
    sparse = is_sparse(X)
    if sparse:
        X = X.tocsr()
    first, rest = model.layers[0], model.layers[1:]
    W, b = first.weight.data, first.bias.data
    chunks = []
    with model.mode(training=False):
        for start in range(0, X.shape[0], PREDICT_BATCH):
            rows = X[start : start + PREDICT_BATCH]
            if sparse:
                z = np.asarray(rows @ W).astype(W.dtype, copy=False)
                z += b
            else:
                z = first.forward(np.asarray(rows))
            for layer in rest:
                z = layer.forward(z)
            chunks.append(z)
    model.release()
    return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
