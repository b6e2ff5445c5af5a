"""onecycle: the learning-rate range test and the 1cycle policy for Keras 3."""

from onecycle import optimizers
from onecycle.callbacks import ScheduleLogger
from onecycle.finder import LRFinderResult, find_lr
from onecycle.fit import fit_one_cycle, install_schedule
from onecycle.schedules import OneCycle, Piecewise
from onecycle.suggest import Suggestion, suggest

__all__ = [
    "LRFinderResult",
    "OneCycle",
    "Piecewise",
    "ScheduleLogger",
    "Suggestion",
    "find_lr",
    "fit_one_cycle",
    "install_schedule",
    "optimizers",
    "suggest",
]
__version__ = "0.1.0"
