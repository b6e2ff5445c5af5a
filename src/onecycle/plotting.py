"""Matplotlib plots. Every function takes `ax=None`, draws on it (or a new figure) and returns the Axes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from onecycle import checks
from onecycle.suggestions import DEFAULT_METHOD

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from onecycle.finder import LRFinderResult
    from onecycle.weight_decay import WDFinderResult


def _axes(ax):
    if ax is not None and not hasattr(ax, "plot"):
        raise ValueError(f"Argument `ax` must be a matplotlib Axes or None. Received: ax={ax!r}")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_lr_finder(result: LRFinderResult, ax: Axes | None = None, method: str = DEFAULT_METHOD) -> Axes:
    """The range-test curve: raw and smoothed loss against the rate (log x), suggestion marked."""
    ax = _axes(ax)
    finite = np.isfinite(result.smoothed_losses)
    ax.plot(result.lrs[finite], result.losses[finite], color="0.8", linewidth=0.8, label="batch loss")
    ax.plot(result.lrs[finite], result.smoothed_losses[finite], color="C0", label="smoothed loss")
    lr, index = result.suggestion(method)
    ax.plot(result.lrs[index], result.smoothed_losses[index], "o", color="C3")
    ax.axvline(lr, color="C3", linestyle="--", label=f"suggested ({method}): {lr:.3g}")
    low, high = np.nanmin(result.smoothed_losses), np.nanmax(result.smoothed_losses[: max(index + 1, 1)])
    ax.set_ylim(low - 0.1 * (high - low), high + 0.5 * (high - low) + 1e-12)
    return _rate_axes(ax, "loss")


def plot_wd_finder(result: WDFinderResult, ax: Axes | None = None, method: str = DEFAULT_METHOD) -> Axes:
    """The weight-decay range test: one smoothed curve per weight decay (log x), the point each
    suggestion comes from marked, the lowest-loss weight decay drawn thicker."""
    ax = _axes(ax)
    best = result.best_index()
    for i, (wd, curve) in enumerate(zip(result.weight_decays, result.results)):
        finite = np.isfinite(curve.smoothed_losses)
        label = f"weight decay {wd:g}" + (" (lowest loss)" if i == best else "")
        (line,) = ax.plot(
            curve.lrs[finite], curve.smoothed_losses[finite], label=label, linewidth=2.0 if i == best else 1.0
        )
        _, index = curve.suggestion(method)
        ax.plot(curve.lrs[index], curve.smoothed_losses[index], "o", color=line.get_color())
    low = min(np.nanmin(c.smoothed_losses) for c in result.results)
    start = max(c.smoothed_losses[np.isfinite(c.smoothed_losses)][0] for c in result.results)
    ax.set_ylim(low - 0.1 * (start - low), start + 0.5 * (start - low) + 1e-12)
    return _rate_axes(ax, "smoothed loss")


def _rate_axes(ax, ylabel):
    """A range test's axes: the rate on a log x axis, `ylabel` on y, the legend."""
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")
    return ax


def plot_schedule(
    schedule: Callable | float,
    total_steps: int,
    ax: Axes | None = None,
    label: str | None = None,
    **plot_kwargs,
) -> Axes:
    """A schedule's value at every step from 0 to `total_steps`."""
    total_steps = checks.positive_int("total_steps", total_steps)
    if not (callable(schedule) or checks.is_real(schedule)):
        raise ValueError(
            f"Argument `schedule` must be a schedule, a callable or a number. Received: schedule={schedule!r}"
        )
    ax = _axes(ax)
    steps = np.arange(total_steps + 1)
    ax.plot(steps, schedule_values(schedule, steps), label=label, **plot_kwargs)
    ax.set_xlabel("step")
    return ax


def schedule_values(schedule: Callable | float, steps: ArrayLike) -> np.ndarray:
    """Values of a schedule (an `onecycle` schedule, any Keras schedule, or a float) at `steps`."""
    if hasattr(schedule, "evaluate"):
        return schedule.evaluate(steps)
    if callable(schedule):
        from keras import ops

        # Keras' own schedules branch on a scalar step (ops.cond), so evaluate them one step at a time.
        return np.array([float(ops.convert_to_numpy(schedule(int(step)))) for step in steps])
    return np.full(np.shape(steps), float(schedule))
