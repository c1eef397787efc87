"""The learner's notebook, run through handgrad's API, and completed.

The notebook builds a neuron, a layer, a 3-layer forward network and a 3-layer network whose
forward pass it computes before stopping at the error. This script reproduces every cell and then
does what the notebook set out to do: the loss ½(a − p)², the gradient of every weight and bias,
one gradient-descent update, and a training run that brings the prediction to the target.
Every gradient printed is checked against finite differences with ``hg.gradcheck``.

Run:  python examples/seed_notebook.py
"""

from __future__ import annotations

import numpy as np

import handgrad as hg
from handgrad.explain import notebook

LEARNING_RATE = 0.01


def show(label: str, value) -> None:
    text = np.array2string(np.asarray(value), precision=8, suppress_small=True)
    print(f"{label}:\n{text}\n" if "\n" in text else f"{label}: {text}")


def cell_1_single_neuron(seed: int = 13) -> float:
    model, x = notebook.single_neuron(np.random.default_rng(seed))
    dense = model[0]
    w, b = dense.weight.data[0, 0], dense.bias.data[0]
    out = float(model(x)[0, 0])
    print(f"weight = {w:.6f}, bias = {b:g}, input = {x[0, 0]:g}")
    print(f"relu(weight · input + bias) = {out:.6f}")
    return out


def cell_2_layer() -> np.ndarray:
    model, x = notebook.layer_of_neurons()
    out = model(x)[0]
    show("relu(W · x + b)", out)
    return out


def cell_3_forward_network() -> list[np.ndarray]:
    model, x = notebook.forward_network()
    outputs = [model[: 2 * (k + 1)](x)[0] for k in range(3)]
    show("Inputs for 2nd layer (output of layer 1)", outputs[0])
    show("Inputs for 3rd layer (output of layer 2)", outputs[1])
    show("Final output", outputs[2])
    return outputs


def cell_4_backpropagation() -> dict[str, np.ndarray]:
    """The 3-layer network: forward, error, loss, every gradient, one update, then training."""
    model, x, target = notebook.backprop_network()
    loss = hg.MSELoss()
    figures: dict[str, np.ndarray] = {}

    print("================== Forward Pass ==================")
    activations = [x]
    for k in range(0, len(model), 2):
        z = model[k](activations[-1])
        a = model[k + 1](z)
        figures[f"Z{k // 2 + 1}"], figures[f"A{k // 2 + 1}"] = z[0], a[0]
        activations.append(a)
        show(f"Layer {k // 2 + 1}: Z = A_prev · W + b", z[0])
        show(f"Layer {k // 2 + 1}: A = relu(Z)", a[0])
    prediction = activations[-1]
    figures["p"] = prediction[0]
    figures["error"] = (target - prediction)[0]
    show("Error (actual − predicted)", figures["error"])

    print("\n================== Backward Pass ==================")
    value = loss.forward(model(x), target)
    figures["loss"] = np.array([value])
    print(f"Loss L = ½(a − p)² = {value:.8f}")
    grad = loss.backward()
    figures["dL/dp"] = grad[0]
    show("Loss w.r.t. output: dL/dp = p − a", grad[0])
    # Walk back through the layers one at a time, printing what each backward returns.
    for k in range(len(model) - 1, -1, -2):
        n = k // 2 + 1
        dZ = model[k].backward(grad)  # the ReLU: dL/dZ = dL/dA ⊙ relu′(Z)
        grad = model[k - 1].backward(dZ)  # the Dense: fills dL/dW, dL/db, returns dL/dA_prev
        dense = model[k - 1]
        figures[f"dL/dZ{n}"], figures[f"dL/dW{n}"] = dZ[0], dense.weight.grad.copy()
        figures[f"dL/db{n}"] = dense.bias.grad.copy()
        show(f"Layer {n}: loss w.r.t. pre-activation output  dL/dZ = dL/dA ⊙ relu′(Z)", dZ[0])
        show(f"Layer {n}: loss w.r.t. weight  dL/dW = A_prevᵀ · dL/dZ", dense.weight.grad)
        show(f"Layer {n}: loss w.r.t. bias    dL/db = Σ dL/dZ", dense.bias.grad)

    print("\nEvery gradient above, against central finite differences:")
    # dL/dW and dL/db are the parameter gradients of the whole network; dL/dZ of layer n is the
    # input gradient of the network from layer n's activation on, evaluated at Z.
    report = hg.gradcheck(model, x, loss, target)
    print(report)
    all_passed = report.passed
    for k in range(1, len(model), 2):
        n = k // 2 + 1
        sub = hg.gradcheck(model[k:], figures[f"Z{n}"][None, :], loss, target)
        print(f"dL/dZ{n}: max relative error {sub['input'].max_rel_error:.1e}", end="  ")
        print("PASSED" if sub.passed else "FAILED")
        all_passed = all_passed and sub.passed
    figures["gradcheck passed"] = np.array([all_passed])

    print(f"\n=========== One update, w ← w − lr · dL/dw (lr = {LEARNING_RATE}) ===========")
    optimizer = hg.SGD(model.parameters(), lr=LEARNING_RATE)
    loss.forward(model(x), target)
    model.backward(loss.backward())
    optimizer.step()
    for k in range(0, len(model), 2):
        n = k // 2 + 1
        figures[f"W{n} updated"] = model[k].weight.data.copy()
        figures[f"b{n} updated"] = model[k].bias.data.copy()
        show(f"Layer {n}: W", model[k].weight.data)
        show(f"Layer {n}: b", model[k].bias.data)
    figures["p after one update"] = model(x)[0]
    show("Prediction after one update", figures["p after one update"])

    print("\n================== Training ==================")
    history = model.fit(x, target, loss=loss, optimizer=optimizer, epochs=30, batch_size=1)
    final = loss.forward(model(x), target)
    figures["p trained"] = model(x)[0]
    figures["loss trained"] = np.array([final])
    for epoch in (0, 4, 9, 19, 29):
        print(f"epoch {epoch + 1:>2}: loss {history['loss'][epoch]:.3e}")
    show("Prediction after training", figures["p trained"])
    print(f"Loss after training: {final:.3e} (target {target[0, 0]:g})")
    return figures


def main() -> None:
    print("=== Cell 1: a single neuron ===")
    cell_1_single_neuron()
    print("\n=== Cell 2: a layer of neurons ===")
    cell_2_layer()
    print("\n=== Cell 3: a 3-layer network, forward ===")
    cell_3_forward_network()
    print("\n=== Cell 4: a 3-layer network, back-propagation completed ===")
    cell_4_backpropagation()


if __name__ == "__main__":
    main()
