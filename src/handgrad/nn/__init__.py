"""The network itself: parameters, the layer contract and registry, layers, losses, ``Sequential``.

The ground floor of the house above it: it imports nothing of handgrad but the argument checks.
"""

from .activations import *  # noqa: F403  (each family file lists its public names)
from .activations import __all__ as _activations
from .conv import Conv1D, Conv2D
from .dense import Dense
from .dropout import Dropout
from .gelu import GELU
from .layer import Formula, Layer, Worked, register_layer
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .normalization import BatchNorm, LayerNorm
from .parameter import Parameter, State
from .pooling import AvgPool1D, AvgPool2D, GlobalAvgPool, MaxPool1D, MaxPool2D
from .residual import Residual
from .sequential import Sequential
from .shape import Flatten, Reshape

__all__ = [
    *_activations,
    "GELU",
    "AvgPool1D",
    "AvgPool2D",
    "BCEWithLogitsLoss",
    "BatchNorm",
    "Conv1D",
    "Conv2D",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "Flatten",
    "Formula",
    "GlobalAvgPool",
    "Layer",
    "LayerNorm",
    "Loss",
    "MSELoss",
    "MaxPool1D",
    "MaxPool2D",
    "Parameter",
    "Reshape",
    "Residual",
    "Sequential",
    "State",
    "Worked",
    "register_layer",
]
