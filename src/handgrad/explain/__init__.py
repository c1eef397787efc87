"""Showing the work: a training step observed and traced, its renderings, the network's health
(diagnostics), gradient checks, figures, and the learner's notebook's networks."""

from .diagnostics import Diagnosis, diagnose
from .gradcheck import GradcheckReport, gradcheck
from .trace import Trace, seed_trace, trace

__all__ = ["Diagnosis", "GradcheckReport", "Trace", "diagnose", "gradcheck", "seed_trace", "trace"]
