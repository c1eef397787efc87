"""The networks of the learner's notebook handgrad grew from, built with handgrad's layers.

The notebook writes a layer as ``relu(xᵀ · W + bᵀ)`` with column vectors; handgrad takes rows, so
each network here takes the notebook's input as one row and each ``Dense`` holds the notebook's
weight matrix ``(n_in, n_out)`` as it is. The one exception is the second cell, which multiplies
``W · x`` (weights first): its ``Dense`` holds ``Wᵀ``.
"""

from __future__ import annotations

import numpy as np

from ..nn.activations import ReLU
from ..nn.dense import Dense
from ..nn.sequential import Sequential


def dense_from(weight, bias, dtype=np.float64) -> Dense:
    """A ``Dense`` holding exactly ``weight`` (n_in, n_out) and ``bias`` (n_out,)."""
    weight = np.asarray(weight, dtype=dtype)
    layer = Dense(*weight.shape, init="zeros", dtype=dtype)
    layer.weight.data[...] = weight
    layer.bias.data[...] = np.asarray(bias, dtype=dtype).reshape(-1)
    return layer


def single_neuron(rng: np.random.Generator) -> tuple[Sequential, np.ndarray]:
    """Cell 1: one neuron ``relu(w·x + b)`` with ``w ~ U[0, 1)``, ``b ∈ {1..9}``, ``x ∈ {1..99}``,
    drawn from ``rng`` in the notebook's order. Returns the network and its input ``[[x]]``."""
    weight = rng.random()
    bias = rng.integers(1, 10)
    x = rng.integers(1, 100)
    return Sequential([dense_from([[weight]], [bias]), ReLU()]), np.array([[x]], dtype=np.float64)


def layer_of_neurons() -> tuple[Sequential, np.ndarray]:
    """Cell 2: three neurons of three inputs, ``relu(W · x + b)`` → ``[5.6, 6.89, 8.07]``."""
    W = np.array([[0.3, 0.6, 0.7], [0.2, 0.54, 0.87], [0.96, 0.23, 0.55]])
    b = np.array([2, 3, 5])
    return Sequential([dense_from(W.T, b), ReLU()]), np.array([[1.0, 2.0, 3.0]])


def forward_network() -> tuple[Sequential, np.ndarray]:
    """Cell 3: 5 → 3 → 2 → 1 with ReLU after every layer; output ``30.37543``."""
    W1 = np.array(
        [
            [0.3, 0.8, 0.32],
            [0.2, 0.232, 0.27],
            [0.5, 0.9, 0.655],
            [0.23, 0.53, 0.23],
            [0.6, 0.66, 0.46],
        ]
    )
    W2 = np.array([[0.3, 0.8], [0.2, 0.232], [0.5, 0.9]])
    W3 = np.array([[0.63], [0.75]])
    model = Sequential(
        [
            dense_from(W1, [3, 1, 5]),
            ReLU(),
            dense_from(W2, [1, 2]),
            ReLU(),
            dense_from(W3, [7]),
            ReLU(),
        ]
    )
    return model, np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])


def backprop_network() -> tuple[Sequential, np.ndarray, np.ndarray]:
    """Cell 4: 3 → 3 → 2 → 1 with ReLU after every layer, input ``[1, 2, 3]``, target ``1``.

    The forward pass gives ``7.188368``; the notebook stops at the error ``1 − 7.188368``.
    Returns the network, the input row and the target ``[[1.0]]``.
    """
    W1 = np.array([[0.3, 0.2, 0.4], [0.34, 0.23, 0.43], [0.67, 0.21, 0.11]])
    W2 = np.array([[0.3, 0.2], [0.34, 0.23], [0.44, 0.75]])
    W3 = np.array([[0.33], [0.66]])
    model = Sequential(
        [
            dense_from(W1, [1, 2, 1]),
            ReLU(),
            dense_from(W2, [2, 3]),
            ReLU(),
            dense_from(W3, [1.1]),
            ReLU(),
        ]
    )
    return model, np.array([[1.0, 2.0, 3.0]]), np.array([[1.0]])
