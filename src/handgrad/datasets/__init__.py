"""Data sets, all offline, as :class:`Dataset` objects ready for ``model.fit``.

Built in, by name (see :func:`load`):

* ``"digits"``: scikit-learn's bundled 8×8 handwritten digits, split here at random by class;
* ``"mnist1d"``: MNIST-1D, generated on this machine by the ``mnist1d`` package;
* ``"fashion-mnist"``: Fashion-MNIST, read from its four IDX files with NumPy alone.

And your own data: a ``.csv`` file (text columns one-hot encoded, missing cells filled: see
:mod:`handgrad.datasets.table`), or an ``.npz`` archive.
"""

from .builtin import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR,
    load_digits,
    load_fashion_mnist,
    load_mnist1d,
)
from .catalog import NAMES, load
from .dataset import TASKS, Dataset
from .files import load_csv, load_npz
from .table import Table, TableEncoder, read_table

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "NAMES",
    "TASKS",
    "Dataset",
    "Table",
    "TableEncoder",
    "load",
    "load_csv",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist1d",
    "load_npz",
    "read_table",
]
