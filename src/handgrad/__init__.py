"""handgrad: neural networks on NumPy, with every gradient derived by hand, explained and checked.

>>> import numpy as np, handgrad as hg
>>> model = hg.Sequential([hg.Dense(4, 16, rng=0), hg.ReLU(), hg.Dense(16, 3, rng=1)])
>>> model(np.ones((2, 4))).shape
(2, 3)

The package is a house of floors, each importing only from its own floor or lower ones
(``docs/architecture.md`` draws it): ``nn`` (the network) < ``optim``, ``saving``, ``datasets``,
``distributed`` < ``train`` < ``explain``, ``interop`` < ``cli``. This module re-exports the
public names of every floor.
"""

from . import datasets, distributed
from ._version import __version__ as __version__
from .errors import ModelFileError, TrainingDiverged
from .explain import GradcheckReport, Trace, diagnose, gradcheck, trace
from .interop import export_onnx
from .nn import *  # noqa: F403  (the layers, losses and Sequential; nn lists them)
from .nn import __all__ as _nn_names
from .optim import SGD, Adam, AdamW, Optimizer, RMSprop
from .saving import load, save
from .train import (
    Accuracy,
    Callback,
    Checkpoint,
    CosineLR,
    EarlyStopping,
    ExponentialLR,
    History,
    LRSchedule,
    MeanAbsoluteError,
    Metric,
    ProgressBar,
    R2Score,
    StepLR,
    TrainingRun,
    WarmupLR,
    evaluate,
    fit,
)

__all__ = [
    *_nn_names,
    "SGD",
    "Accuracy",
    "Adam",
    "AdamW",
    "Callback",
    "Checkpoint",
    "CosineLR",
    "EarlyStopping",
    "ExponentialLR",
    "GradcheckReport",
    "History",
    "LRSchedule",
    "MeanAbsoluteError",
    "Metric",
    "ModelFileError",
    "Optimizer",
    "ProgressBar",
    "R2Score",
    "RMSprop",
    "StepLR",
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
    "save",
    "trace",
]
