"""Coverage-guided fuzzing of ``hg.load`` with atheris, for runs longer than the test suite's.

The property: for any bytes, ``hg.load`` returns a model or raises ``hg.ModelFileError``; any other
exception is a bug and atheris stops with the input that caused it. See fuzz/README.md.
"""

import contextlib
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import numpy as np

    import handgrad as hg


def seed_corpus(folder: str) -> None:
    """A few valid files for atheris to start mutating from."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    models = {
        "mlp": hg.Sequential([hg.Dense(4, 8, rng=rng), hg.ReLU(), hg.Dense(8, 3, rng=rng)]),
        "nested": hg.Sequential(
            [
                hg.Dense(3, 5, rng=rng, dtype=np.float32),
                hg.Dropout(0.1, rng=0),
                hg.Sequential([hg.Dense(5, 2, rng=rng, dtype=np.float32), hg.GELU("tanh")]),
            ]
        ),
    }
    for name, model in models.items():
        model.save(os.path.join(folder, f"{name}.safetensors"), metadata={"name": name})


_PATH = os.path.join(tempfile.mkdtemp(prefix="handgrad-fuzz-"), "input.safetensors")


def test_one_input(data: bytes) -> None:
    with open(_PATH, "wb") as f:
        f.write(data)
    with contextlib.suppress(hg.ModelFileError):  # the one exception a bad file may raise
        hg.load(_PATH)


if __name__ == "__main__":
    corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    if not os.path.isdir(corpus) or not os.listdir(corpus):
        seed_corpus(corpus)
    argv = sys.argv if any(not a.startswith("-") for a in sys.argv[1:]) else [*sys.argv, corpus]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
