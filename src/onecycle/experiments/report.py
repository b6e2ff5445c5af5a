"""The summary table, the plots and report.md of a run folder, all rebuilt from its JSON files."""

import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from onecycle import LRFinderResult  # noqa: E402
from onecycle.experiments import arms, storage  # noqa: E402
from onecycle.plotting import schedule_values  # noqa: E402


def _higher_is_better(metric):
    return metric == "accuracy"


def _val_curves(runs):
    """Validation metric per epoch, one row per seed, NaN-padded to the longest run."""
    length = max(len(r["epochs"]) for r in runs)
    curves = np.full((len(runs), length), np.nan)
    for i, run in enumerate(runs):
        values = [np.nan if e["val_metric"] is None else e["val_metric"] for e in run["epochs"]]
        curves[i, : len(values)] = values
    return curves


def _mean_std(values):
    values = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    if np.all(np.isnan(values)):
        return None, None
    return float(np.nanmean(values)), float(np.nanstd(values))


def _by_arm(runs):
    grouped = {}
    for run in runs:
        grouped.setdefault(run["arm"], []).append(run)
    return grouped


def _first_epoch_reaching(curve, target, higher):
    reached = curve >= target if higher else curve <= target
    hits = np.nonzero(reached)[0]
    return int(hits[0]) + 1 if hits.size else None


def summarize(results):
    """One row per arm: final/best validation metric and test metric (mean and std over seeds), and
    the first epoch at which the arm's mean validation curve reaches the best point of the best
    constant-rate arm's mean curve (the baseline), and wall time."""
    metric = results["dataset"]["metric"]
    higher = _higher_is_better(metric)
    best_of = np.nanmax if higher else np.nanmin
    rows, curves_by_arm = [], {}
    for arm, runs in _by_arm(results["runs"]).items():
        curves = _val_curves(runs)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            bests = [float(best_of(c)) if not np.all(np.isnan(c)) else None for c in curves]
            curves_by_arm[arm] = np.nanmean(curves, axis=0)
        rows.append({
            "arm": arm, "metric": metric, "seeds": len(runs), "epochs": runs[0]["planned_epochs"],
            **_prefixed("final_val", _mean_std([r["epochs"][-1]["val_metric"] if r["epochs"] else None for r in runs])),
            **_prefixed("best_val", _mean_std(bests)),
            **_prefixed("test", _mean_std([r["test_metric"] for r in runs])),
            "wall_time_mean": _mean_std([r["epochs"][-1]["wall_time"] if r["epochs"] else None for r in runs])[0],
            "diverged_runs": sum(r["diverged_step"] is not None for r in runs),
            "diverged_steps": [r["diverged_step"] for r in runs if r["diverged_step"] is not None],
        })
    targets = {arm: float(best_of(c)) for arm, c in curves_by_arm.items()
               if arm.startswith("constant") and np.any(np.isfinite(c))}
    baseline = (max if higher else min)(targets, key=targets.get) if targets else None
    for row in rows:
        row["baseline_arm"] = baseline
        row["baseline_best_val"] = targets[baseline] if baseline else None
        row["epochs_to_baseline_best"] = (
            _first_epoch_reaching(curves_by_arm[row["arm"]], targets[baseline], higher) if baseline else None
        )
    return rows


def _prefixed(prefix, mean_std):
    return {f"{prefix}_mean": mean_std[0], f"{prefix}_std": mean_std[1]}


def save_finder_plot(result, path, method):
    figure, ax = plt.subplots(figsize=(6, 4))
    result.plot(ax=ax, method=method)
    ax.set_title("Learning-rate range test")
    storage.save_figure(figure, path)
    plt.close(figure)


def save_schedule_plot(results, path):
    figure, (ax_lr, ax_m) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for arm, runs in _by_arm(results["runs"]).items():
        run = runs[0]
        total = run["planned_epochs"] * run["steps_per_epoch"]
        steps = np.unique(np.linspace(0, total, min(total + 1, 1000)).round().astype(int))
        epochs = steps / run["steps_per_epoch"]
        ax_lr.plot(epochs, schedule_values(storage.restore_value(run["learning_rate"]), steps), label=arm)
        ax_m.plot(epochs, schedule_values(storage.restore_value(run["momentum"]), steps), label=arm)
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate")
    ax_m.set_ylabel("momentum / beta_1")
    ax_m.set_xlabel("epoch")
    ax_lr.legend(fontsize=8)
    ax_lr.set_title("Schedules of the arms")
    storage.save_figure(figure, path)
    plt.close(figure)


def save_metric_plot(results, path):
    metric = results["dataset"]["metric"]
    figure, ax = plt.subplots(figsize=(7, 4.5))
    for arm, runs in _by_arm(results["runs"]).items():
        curves = _val_curves(runs)
        with np.errstate(all="ignore"):
            mean, std = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        x = np.arange(1, curves.shape[1] + 1)
        ax.plot(x, mean, marker="." if len(x) <= 30 else None, label=f"{arm} ({len(runs)} seeds)")
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    summary = results.get("summary") or summarize(results)
    if summary and summary[0]["baseline_arm"]:
        ax.axhline(summary[0]["baseline_best_val"], color="0.4", linestyle=":", label=f"best constant-rate val {metric}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    if _higher_is_better(metric):
        finite = np.concatenate([_val_curves(r)[:, -1] for r in _by_arm(results["runs"]).values()])
        low = np.nanmin(finite) if np.any(np.isfinite(finite)) else None
        if low is not None:
            ax.set_ylim(max(0.0, low - 0.05), None)
    else:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title(f"{results['dataset']['name']}: validation {metric} (mean ± std over seeds)")
    storage.save_figure(figure, path)
    plt.close(figure)


def _fmt(mean, std, metric):
    if mean is None:
        return "n/a"
    if metric == "accuracy":
        return f"{100 * mean:.2f} ± {100 * std:.2f}"
    return f"{mean:.3f} ± {std:.3f}"


def table(summary):
    metric = summary[0]["metric"] if summary else "metric"
    unit = " (%)" if metric == "accuracy" else ""
    lines = [
        f"| arm | epochs | final val {metric}{unit} | best val {metric}{unit} | test {metric}{unit} | epochs to best constant-rate val | wall time (s) | diverged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summary:
        reached = r["epochs_to_baseline_best"] if r["epochs_to_baseline_best"] is not None else "never"
        diverged = f"{r['diverged_runs']} (steps {r['diverged_steps']})" if r["diverged_runs"] else "0"
        wall = f"{r['wall_time_mean']:.0f}" if r["wall_time_mean"] is not None else "n/a"
        lines.append(
            f"| {r['arm']} | {r['epochs']} | {_fmt(r['final_val_mean'], r['final_val_std'], metric)} "
            f"| {_fmt(r['best_val_mean'], r['best_val_std'], metric)} | {_fmt(r['test_mean'], r['test_std'], metric)} "
            f"| {reached} | {wall} | {diverged} |"
        )
    return "\n".join(lines)


def _command(config):
    options = []
    for key, value in config.items():
        if key in ("command", "dataset") or value in (None, False) or (key == "arms" and config["command"] == "train"):
            continue
        flag = f"--{key.replace('_', '-')}"
        options.append(flag if value is True else f"{flag} {value}")
    return " ".join(["onecycle", config["command"], config["dataset"], *options])


def write(path):
    """Rebuild report.md and the plots of a run folder from config.json, results.json, finder.json."""
    config = storage.read_json(os.path.join(path, "config.json"))
    results = storage.read_json(os.path.join(path, "results.json"))
    results["summary"] = summarize(results)
    finder_path = os.path.join(path, "finder.json")
    sections = [f"# {results['dataset']['name']}: {', '.join(_by_arm(results['runs']))}", ""]
    sections += [f"Command: `{_command(config)}`", "",
                 f"Data: {results['dataset']['source']}; {results['dataset']['train']} train, "
                 f"{results['dataset']['val']} validation, {results['dataset']['test']} test samples; inputs "
                 "standardized with training statistics.", "", f"Model: {results['model']}", ""]
    if results["dataset"]["name"] == "boston_housing":
        sections += ["Boston Housing's B column has an ethically problematic derivation (the reason scikit-learn "
                     "removed the dataset); it is used here only to reproduce the original experiment.", ""]
    if os.path.exists(finder_path):
        finder = LRFinderResult.load(finder_path)
        save_finder_plot(finder, os.path.join(path, "finder.png"), config["method"])
        sections += [f"Range test: suggested peak rate {results['max_lr']:.4g} ({config['method']}); "
                     f"{len(finder.lrs)} steps{', stopped at divergence' if finder.diverged else ''}.", "",
                     "![range test](finder.png)", ""]
    elif results.get("max_lr"):
        sections += [f"Peak rate given: {results['max_lr']:.4g}.", ""]
    if results["runs"]:
        save_schedule_plot(results, os.path.join(path, "schedules.png"))
        save_metric_plot(results, os.path.join(path, "val_metric.png"))
        sections += ["## Results", "", table(results["summary"]), "",
                     "Mean ± std over seeds. \"Epochs to best constant-rate val\": first epoch at which the arm's "
                     "mean validation curve reaches the best point of the best constant-rate arm's mean curve "
                     f"({results['summary'][0]['baseline_arm']}: {_fmt(results['summary'][0]['baseline_best_val'], 0.0, results['summary'][0]['metric']).split(' ±')[0]}).",
                     "", "Arms: " + "; ".join(f"`{a}`: {arms.DESCRIPTIONS[a]}" for a in _by_arm(results["runs"])) + ".", "",
                     "![validation metric](val_metric.png)", "", "![schedules](schedules.png)", ""]
    tmp = os.path.join(path, "report.md.tmp")
    with open(tmp, "w") as f:
        f.write("\n".join(sections))
    os.replace(tmp, os.path.join(path, "report.md"))
    storage.write_json(os.path.join(path, "results.json"), results)
    return os.path.join(path, "report.md")
