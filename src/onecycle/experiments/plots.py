"""The plots of a run folder: the range test, the schedules of the arms, the validation curves. Each
figure draws on its own Agg canvas: the user's matplotlib backend and pyplot's figures are left
alone (a notebook stays as it was)."""

import warnings

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from onecycle import schedule_values
from onecycle.experiments import milestones, stats, storage, summary


def _figure(rows=1, cols=1, **kwargs):
    """A figure on its own Agg canvas, and its axes: the user's matplotlib backend and pyplot's
    figures are left alone (a notebook stays as it was)."""
    figsize = kwargs.pop("figsize")
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, cols, **kwargs)


def save_finder_plot(result, path, method):
    figure, ax = _figure(figsize=(6, 4))
    result.plot(ax=ax, method=method)
    ax.set_title("Learning-rate range test")
    storage.save_figure(figure, path)


def _plotted_groups(runs):
    """One group per arm and budget: the one that ran on the most seeds (the chosen rate of a grid)."""
    best = {}
    for key, group in summary.groups(runs).items():
        arm_budget = (key[0], key[2])
        if arm_budget not in best or len(group) > len(best[arm_budget][1]):
            best[arm_budget] = (key, group)
    return dict(best.values())


def save_schedule_plot(runs, names, path):
    figure, (ax_lr, ax_m) = _figure(2, 1, figsize=(7, 6), sharex=True)
    for key, group in _plotted_groups(runs).items():
        run = group[0]
        total = run["planned_epochs"] * run["steps_per_epoch"]
        steps = np.unique(np.linspace(0, total, min(total + 1, 300)).round().astype(int))
        epochs = steps / run["steps_per_epoch"]
        ax_lr.plot(
            epochs, schedule_values(storage.restore_value(run["learning_rate"]), steps), label=names[key]
        )
        ax_m.plot(epochs, schedule_values(storage.restore_value(run["momentum"]), steps), label=names[key])
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate")
    ax_m.set_ylabel("momentum / beta_1")
    ax_m.set_xlabel("epoch")
    ax_lr.legend(fontsize=7)
    ax_lr.set_title("Schedules of the arms")
    storage.save_figure(figure, path)


def save_metric_plot(runs, names, table, title, path):
    metric = table["rows"][0]["metric"]
    figure, ax = _figure(figsize=(7, 4.5))
    groups = summary.groups(runs)
    lows = []
    for key, group in groups.items():
        curves = milestones.val_curves(group)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(curves, axis=0)
            std = np.nanstd(curves, axis=0, ddof=1) if len(group) > 1 else np.zeros_like(mean)
        x = np.arange(1, curves.shape[1] + 1)
        ax.plot(x, mean, marker="." if len(x) <= 30 else None, label=f"{names[key]} ({len(group)} seeds)")
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        lows.append(np.nanmin(mean) if np.any(np.isfinite(mean)) else np.nan)
    baseline = table["baseline"]
    if baseline:
        ax.axhline(
            baseline["best_val_mean"],
            color="0.4",
            linestyle=":",
            label=f"best constant rate ({baseline['arm']}): best val {metric}",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    if stats.higher_is_better(metric):
        best = baseline["best_val_mean"] if baseline else np.nanmax(lows)
        ax.set_ylim(max(0.0, best - 0.06), None)
    else:
        ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title(f"{title}: validation {metric} (mean ± std over seeds)")
    storage.save_figure(figure, path)
