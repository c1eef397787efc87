"""The estimators' network: sparse rows through the first layer, and outputs for dense or sparse
rows, against the dense computation."""

import numpy as np
import pytest
import scipy.sparse as sp

import handgrad as hg
from handgrad.interop.sklearn.network import (
    SparseRows,
    build_network,
    decode_rows,
    encode_rows,
    raw_output,
    row_codes,
    training_input,
)


def sparse_data(n=30, d=12, density=0.3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=dtype)
    return X, rng


def test_row_numbers_travel_exactly_in_float32():
    rows = np.array([0, 1, 5, (1 << 22) - 1, 1 << 22, (1 << 24) + 1, (1 << 40) + 12345])
    codes = encode_rows(rows).astype(np.float32)
    np.testing.assert_array_equal(decode_rows(codes), rows)
    assert codes.max() < 1 << 24
    np.testing.assert_array_equal(decode_rows(row_codes(6).astype(np.float32)), np.arange(6))


def test_sparse_rows_compute_the_dense_layer_on_the_gathered_rows():
    X, rng = sparse_data()
    dense = hg.Dense(12, 5, rng=1)
    layer = SparseRows(X, dense)
    rows = np.array([4, 0, 29, 4, 11])
    Z = layer.forward(row_codes(30)[rows])
    np.testing.assert_allclose(Z, X.toarray()[rows] @ dense.weight.data + dense.bias.data)
    dZ = rng.standard_normal(Z.shape)
    layer.backward_params(dZ)
    sparse_grads = dense.weight.grad.copy(), dense.bias.grad.copy()
    dense.forward(X.toarray()[rows])
    dense.backward_params(dZ)
    np.testing.assert_allclose(sparse_grads[0], dense.weight.grad, rtol=1e-13)
    np.testing.assert_allclose(sparse_grads[1], dense.bias.grad, rtol=1e-13)
    assert layer.parameters() == dense.parameters()  # the same Parameter objects


def test_sparse_rows_gradients_match_central_differences():
    """dW = X_Bᵀ·dZ and db = 1ᵀ·dZ against finite differences of L = Σ Z ⊙ R."""
    X, rng = sparse_data(seed=2)
    layer = SparseRows(X, hg.Dense(12, 3, rng=0))
    codes = row_codes(30)[[3, 8, 8, 20]]
    R = rng.standard_normal((4, 3))
    layer.forward(codes)
    layer.backward_params(R)
    eps = 1e-6
    for p in layer.parameters():
        for idx in np.ndindex(p.data.shape):
            old = p.data[idx]
            p.data[idx] = old + eps
            up = (layer.forward(codes) * R).sum()
            p.data[idx] = old - eps
            down = (layer.forward(codes) * R).sum()
            p.data[idx] = old
            assert p.grad[idx] == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-9)


def test_backward_gives_no_gradient_for_row_numbers():
    X, _ = sparse_data()
    layer = SparseRows(X, hg.Dense(12, 2, rng=0))
    out = layer.forward(row_codes(30)[:4])
    assert not layer.backward(np.ones_like(out)).any()
    assert layer.backward(np.ones_like(out)).shape == (4, 2)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_of_sparse_rows_equal_the_dense_ones(fmt, dtype):
    X, rng = sparse_data(n=9000, d=20, density=0.1, dtype=dtype)  # more than one predict batch
    model = build_network(20, (6, 4), 3, "tanh", np.dtype(dtype), rng)
    dense = raw_output(model, X.toarray())
    out = raw_output(model, X.asformat(fmt))
    assert out.dtype == dense.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, dense, rtol=tol, atol=tol)


def test_training_input_shares_the_parameters_and_numbers_the_rows():
    X, rng = sparse_data()
    model = build_network(12, (4,), 2, "relu", np.dtype(np.float64), rng)
    net, inputs = training_input(model, X.tocsc())
    assert isinstance(net[0], SparseRows) and net.layers[1:] == model.layers[1:]
    assert [id(p) for p in net.parameters()] == [id(p) for p in model.parameters()]
    np.testing.assert_array_equal(inputs, row_codes(30))
    assert net[0].X.format == "csr"
    same, X_dense = training_input(model, X.toarray())
    assert same is model and isinstance(X_dense, np.ndarray)
