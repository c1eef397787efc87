"""The data sets by name, and files by their extension."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .builtin import load_digits, load_fashion_mnist, load_mnist1d
from .dataset import Dataset, fspath
from .files import load_csv, load_npz

NAMES = ("digits", "mnist1d", "fashion-mnist")


def load(name_or_path: str | os.PathLike, **kwargs: Any) -> Dataset:
    """A data set by name, or a file by its extension; ``kwargs`` go to the loader.

    ``"digits"`` → :func:`load_digits`, ``"mnist1d"`` → :func:`load_mnist1d`,
    ``"fashion-mnist"`` → :func:`load_fashion_mnist`; a path ending in ``.csv`` →
    :func:`load_csv` (which needs ``target=``), in ``.npz`` → :func:`load_npz`. Anything else
    is a ValueError that lists these choices.
    """
    loaders = {"digits": load_digits, "mnist1d": load_mnist1d, "fashion-mnist": load_fashion_mnist}
    if isinstance(name_or_path, str) and name_or_path in loaders:
        return loaders[name_or_path](**kwargs)
    path = Path(fspath(name_or_path, "name_or_path"))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if "target" not in kwargs:
            raise TypeError(f"loading the CSV file {path} needs target=, the target column's name")
        return load_csv(path, **kwargs)
    if suffix == ".npz":
        return load_npz(path, **kwargs)
    choices = ", ".join(repr(n) for n in NAMES)
    raise ValueError(
        f"name_or_path must be one of {choices}, or a path ending in .csv or .npz, "
        f"got {name_or_path!r}"
    )
