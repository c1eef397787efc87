"""Training, apart from the model: the loop (``fit``, ``evaluate``), metrics, callbacks, schedules
and checkpoints."""

from .callbacks import EarlyStopping, ProgressBar
from .checkpoints import Checkpoint
from .loop import evaluate, fit
from .metrics import Accuracy, MeanAbsoluteError, Metric, R2Score
from .run import Callback, History, TrainingRun
from .schedules import CosineLR, ExponentialLR, LRSchedule, StepLR, WarmupLR

__all__ = [
    "Accuracy",
    "Callback",
    "Checkpoint",
    "CosineLR",
    "EarlyStopping",
    "ExponentialLR",
    "History",
    "LRSchedule",
    "MeanAbsoluteError",
    "Metric",
    "ProgressBar",
    "R2Score",
    "StepLR",
    "TrainingRun",
    "WarmupLR",
    "evaluate",
    "fit",
]
