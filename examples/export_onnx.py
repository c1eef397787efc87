"""Train a small classifier, export it to ONNX, and run the file with onnxruntime.

The exported graph is checked with onnx's full checker, then onnxruntime's outputs are compared
with ``model.predict`` on the test rows, in float32 and in float64.

Run:    python examples/export_onnx.py [folder]    (the .onnx files go to a temporary folder
                                                    unless one is given)
Needs:  pip install 'handgrad[onnx]'
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import handgrad as hg


def make_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three classes on 10 features: which of two half-planes a point is in, and how far out."""
    X = rng.standard_normal((1200, 10))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def train(dtype, X: np.ndarray, y: np.ndarray) -> hg.Sequential:
    rng = np.random.default_rng(1)
    model = hg.Sequential(
        [
            hg.Dense(10, 32, rng=rng, dtype=dtype),
            hg.GELU(),
            hg.Dropout(0.1, rng=rng),
            hg.Dense(32, 32, rng=rng, dtype=dtype),
            hg.LeakyReLU(0.05),
            hg.Dense(32, 3, rng=rng, dtype=dtype),
        ]
    )
    optimizer = hg.Adam(model.parameters(), lr=1e-2)
    model.fit(X, y, loss=hg.CrossEntropyLoss(), optimizer=optimizer, epochs=15, seed=0)
    return model


def export_and_compare(model: hg.Sequential, path: Path, X: np.ndarray, y: np.ndarray) -> None:
    import onnx
    import onnxruntime as ort

    proto = hg.export_onnx(model, path, opset=13)
    onnx.checker.check_model(str(path), full_check=True)
    ops = ", ".join(sorted({node.op_type for node in proto.graph.node}))
    print(f"{path.name}: {len(proto.graph.node)} nodes ({ops}), ir_version {proto.ir_version}")

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    X = X.astype(model.dtype)
    (logits,) = session.run(["output"], {"input": X})
    expected = model.predict(X)
    accuracy = (logits.argmax(axis=1) == y).mean()
    same = (logits.argmax(axis=1) == expected.argmax(axis=1)).mean()
    print(f"  largest |onnxruntime − predict|: {np.abs(logits - expected).max():.1e}")
    print(f"  same class as predict: {same:.1%}, test accuracy {accuracy:.3f}")


def main(folder: str | None = None) -> None:
    X, y = make_data(np.random.default_rng(0))
    X_train, y_train, X_test, y_test = X[:1000], y[:1000], X[1000:], y[1000:]
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(folder or scratch)
        for dtype in (np.float32, np.float64):
            model = train(dtype, X_train, y_train)
            export_and_compare(model, out / f"classifier_{np.dtype(dtype)}.onnx", X_test, y_test)


if __name__ == "__main__":
    main(*sys.argv[1:2])
