"""Trains from a memory-mapped file and reports the process's private (anonymous) memory.

Usage: python out_of_core_worker.py DATA.f32 ROWS FEATURES {memmap|arraylike}
Prints JSON: the anonymous memory before loading anything heavy and the largest seen during
training and prediction, in MB. (Pages of a memory-mapped file are shared page cache, not the
process's own memory, so RssAnon is what shows whether the data were copied.)
"""

import json
import sys

import numpy as np

import handgrad as hg


def rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


class Rows:
    """A minimal array-like row source (what an HDF5 or zarr dataset offers)."""

    def __init__(self, array):
        self._a = array
        self.shape, self.dtype = array.shape, array.dtype

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        return np.asarray(self._a[key])


class Sample(hg.Callback):
    def __init__(self):
        self.peak = 0.0

    def on_batch_end(self, run):
        if run.batch % 20 == 0:
            self.peak = max(self.peak, rss_anon_mb())


def main(path, rows, features, kind):
    base = rss_anon_mb()
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(int(rows), int(features)))
    if kind == "arraylike":
        X = Rows(X)
    y = (np.asarray(X[:, 0]) > 0).astype(int) if kind == "memmap" else None
    if y is None:
        y = np.concatenate(
            [np.asarray(X[i : i + 10000])[:, 0] > 0 for i in range(0, len(X), 10000)]
        )
        y = y.astype(int)
    rng = np.random.default_rng(0)
    model = hg.Sequential(
        [
            hg.Dense(int(features), 64, rng=rng, dtype=np.float32),
            hg.ReLU(),
            hg.Dense(64, 2, rng=rng, dtype=np.float32),
        ]
    )
    sample = Sample()
    history = model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.Adam(model.parameters()),
        epochs=1,
        batch_size=256,
        seed=0,
        validation_split=0.05,
        callbacks=[sample],
    )
    pred = model.predict(X, batch_size=8192)
    peak = max(sample.peak, rss_anon_mb())
    print(
        json.dumps(
            {
                "base_mb": base,
                "peak_mb": peak,
                "val_accuracy": history["val_accuracy"][-1],
                "predictions": len(pred),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
