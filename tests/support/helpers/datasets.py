"""Helpers of the data-set tests: IDX files (Fashion-MNIST's format) and CSV files."""

import gzip
from pathlib import Path

import numpy as np

STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"]
STEMS.append("t10k-labels-idx1-ubyte")


def idx_bytes(array, magic=None):
    """An IDX file of unsigned bytes: magic 0x0000 08 ndim, big-endian uint32 sizes, the data."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write(path, content, gz):
    path = Path(f"{path}.gz") if gz else Path(path)
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def write_csv(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path
