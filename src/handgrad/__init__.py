"""handgrad: neural networks on NumPy, with every gradient derived by hand, explained and checked.

>>> import numpy as np, handgrad as hg
>>> model = hg.Sequential([hg.Dense(4, 16, rng=0), hg.ReLU(), hg.Dense(16, 3, rng=1)])
>>> model(np.ones((2, 4))).shape
(2, 3)
"""

from . import datasets, distributed
from .activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .callbacks import (
    Callback,
    Checkpoint,
    CosineLR,
    EarlyStopping,
    ExponentialLR,
    History,
    LRSchedule,
    ProgressBar,
    StepLR,
    WarmupLR,
)
from .diagnostics import diagnose
from .errors import ModelFileError, TrainingDiverged
from .gradcheck import GradcheckReport, gradcheck
from .io import load, register_layer, save
from .layers import Dense, Dropout, Layer
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .metrics import Accuracy, MeanAbsoluteError, Metric, R2Score
from .model import Sequential
from .onnx_export import export_onnx
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .parameter import Parameter
from .trace import Trace, trace
from .training import TrainingRun, evaluate, fit

__version__ = "0.1.0"

__all__ = [
    "GELU",
    "SGD",
    "Accuracy",
    "Adam",
    "AdamW",
    "BCEWithLogitsLoss",
    "Callback",
    "Checkpoint",
    "CosineLR",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "ExponentialLR",
    "GradcheckReport",
    "History",
    "Identity",
    "LRSchedule",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "MeanAbsoluteError",
    "Metric",
    "ModelFileError",
    "Optimizer",
    "Parameter",
    "ProgressBar",
    "R2Score",
    "RMSprop",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StepLR",
    "Tanh",
    "Trace",
    "TrainingDiverged",
    "TrainingRun",
    "WarmupLR",
    "datasets",
    "diagnose",
    "distributed",
    "evaluate",
    "export_onnx",
    "fit",
    "gradcheck",
    "load",
    "register_layer",
    "save",
    "trace",
]
