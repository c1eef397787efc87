"""Training run for test_kill_safety.py: resumes from its checkpoint if there is one, and writes
its final weights to OUT when it completes.  Usage: python kill_worker.py CHECKPOINT OUT"""

import os
import sys

import numpy as np

import handgrad as hg


def main(checkpoint: str, out: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 32))
    y = (X[:, :4].sum(axis=1) > 0).astype(int) + (X[:, 4] > 0.5)
    init = np.random.default_rng(1)
    model = hg.Sequential(
        [
            hg.Dense(32, 128, rng=init),
            hg.ReLU(),
            hg.Dropout(0.2, rng=2),
            hg.Dense(128, 64, rng=init),
            hg.Tanh(),
            hg.Dense(64, 3, rng=init),
        ]
    )
    optimizer = hg.Adam(model.parameters(), lr=3e-3)
    model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=optimizer,
        epochs=60,
        batch_size=32,
        seed=3,
        validation_split=0.1,
        callbacks=[hg.Checkpoint(checkpoint), hg.CosineLR(60)],
        resume_from=checkpoint if os.path.exists(checkpoint) else None,
    )
    model.save(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
