"""onecycle: the learning-rate range test and the 1cycle policy for Keras 3."""

from __future__ import annotations

import importlib as _importlib
import os as _os
import sys as _sys
from importlib import metadata as _metadata
from typing import TYPE_CHECKING

# Every public name is imported on first use (PEP 562): `import onecycle`, and the `onecycle`
# command's --help and argument errors, load no Keras backend.
_HOMES = {
    "optimizers": None,
    "ScheduleLogger": "callbacks",
    "LRFinderResult": "finder",
    "find_lr": "finder",
    "FineTuneResult": "fine_tune",
    "fine_tune": "fine_tune",
    "fit_one_cycle": "fit",
    "install_schedule": "fit",
    "RateGroup": "groups",
    "discriminative_optimizer": "groups",
    "discriminative_rates": "groups",
    "rate_groups": "groups",
    "plot_lr_finder": "plotting",
    "plot_schedule": "plotting",
    "plot_wd_finder": "plotting",
    "schedule_values": "plotting",
    "CYCLE_MOMENTUM": "schedules",
    "OneCycle": "schedules",
    "Piecewise": "schedules",
    "DEFAULT_SUGGESTION": ("suggestions", "DEFAULT_METHOD"),
    "SUGGESTION_METHODS": ("suggestions", "METHODS"),
    "Suggestion": "suggestions",
    "suggest": "suggestions",
    "WDFinderResult": "weight_decay",
    "find_wd": "weight_decay",
}

if TYPE_CHECKING:  # what static tools (type checkers, the API site) read
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


def _is_the_command() -> bool:
    """Whether this process is the `onecycle` command (its script, or `python -m onecycle`)."""
    if _os.path.basename(_sys.argv[0] if _sys.argv else "") == "onecycle":
        return True
    argv = list(getattr(_sys, "orig_argv", ()))
    return any(flag == "-m" and module == "onecycle" for flag, module in zip(argv, argv[1:]))


# `import onecycle` registers its serializable schedules and optimizers with Keras, so that
# `keras.saving.load_model` finds them. The `onecycle` command alone defers even these until it
# trains, so that its --help and argument errors load no backend.
if not _is_the_command():
    from onecycle import optimizers, schedules  # noqa: F401


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module 'onecycle' has no attribute {name!r}")
    home = _HOMES[name]
    if home is None:
        value = _importlib.import_module(f"onecycle.{name}")
    else:
        module, attribute = home if isinstance(home, tuple) else (home, name)
        value = getattr(_importlib.import_module(f"onecycle.{module}"), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_HOMES])


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
