"""onecycle: the learning-rate range test and the 1cycle policy for Keras 3."""

from importlib import metadata as _metadata

from onecycle import optimizers
from onecycle.callbacks import ScheduleLogger
from onecycle.finder import LRFinderResult, find_lr
from onecycle.fine_tune import FineTuneResult, fine_tune
from onecycle.fit import fit_one_cycle, install_schedule
from onecycle.groups import RateGroup, discriminative_optimizer, discriminative_rates, rate_groups
from onecycle.plotting import plot_lr_finder, plot_schedule, plot_wd_finder, schedule_values
from onecycle.schedules import CYCLE_MOMENTUM, OneCycle, Piecewise
from onecycle.suggestions import DEFAULT_METHOD as DEFAULT_SUGGESTION
from onecycle.suggestions import METHODS as SUGGESTION_METHODS
from onecycle.suggestions import Suggestion, suggest
from onecycle.weight_decay import WDFinderResult, find_wd

__all__ = [
    "CYCLE_MOMENTUM",
    "DEFAULT_SUGGESTION",
    "SUGGESTION_METHODS",
    "FineTuneResult",
    "LRFinderResult",
    "OneCycle",
    "WDFinderResult",
    "RateGroup",
    "Piecewise",
    "ScheduleLogger",
    "Suggestion",
    "discriminative_optimizer",
    "discriminative_rates",
    "find_lr",
    "find_wd",
    "fine_tune",
    "fit_one_cycle",
    "install_schedule",
    "optimizers",
    "plot_lr_finder",
    "rate_groups",
    "plot_schedule",
    "plot_wd_finder",
    "schedule_values",
    "suggest",
]

try:
    __version__ = _metadata.version("onecycle")
except _metadata.PackageNotFoundError:  # a source checkout that was never installed
    __version__ = "0+unknown"
