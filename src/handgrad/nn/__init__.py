"""The network itself: parameters, the layer contract and registry, layers, losses, ``Sequential``.

The ground floor of the house above it: it imports nothing of handgrad but the argument checks.
"""

from .activations import *  # noqa: F403  (each family file lists its public names)
from .activations import __all__ as _activations
from .dense import Dense
from .dropout import Dropout
from .gelu import GELU
from .layer import Formula, Layer, register_layer
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .parameter import Parameter
from .sequential import Sequential

__all__ = [
    *_activations,
    "GELU",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "Formula",
    "Layer",
    "Loss",
    "MSELoss",
    "Parameter",
    "Sequential",
    "register_layer",
]
