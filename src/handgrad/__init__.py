"""handgrad: neural networks on NumPy, with every gradient derived by hand, explained and checked.

>>> import numpy as np, handgrad as hg
>>> model = hg.Sequential([hg.Dense(4, 16, rng=0), hg.ReLU(), hg.Dense(16, 3, rng=1)])
>>> model(np.ones((2, 4))).shape
(2, 3)
"""

from .activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .diagnostics import diagnose
from .gradcheck import GradcheckReport, gradcheck
from .layers import Dense, Dropout, Layer
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .model import Sequential
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .parameter import Parameter
from .trace import Trace, trace
from .training import Callback, History, TrainingRun, fit

__version__ = "0.1.0"

__all__ = [
    "GELU",
    "SGD",
    "Adam",
    "AdamW",
    "BCEWithLogitsLoss",
    "Callback",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "GradcheckReport",
    "History",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Trace",
    "TrainingRun",
    "diagnose",
    "fit",
    "gradcheck",
    "trace",
]
