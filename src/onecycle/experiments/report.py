"""report.md of a run folder and its tables, built from its results in memory (the plots:
`plots`; reading a folder and its baseline folders: `folders`)."""

import os

import numpy as np

from onecycle import LRFinderResult
from onecycle.experiments import arms, folders, plots, stats, storage, summary


def fmt(value, metric, std=None, signed=False):
    """A metric value as the tables print it: accuracy in percent, RMSE as is."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    scale, digits = (100, 2) if metric == "accuracy" else (1, 3)
    text = f"{scale * value:+.{digits}f}" if signed else f"{scale * value:.{digits}f}"
    if std is not None and np.isfinite(std):
        text += f" ± {scale * std:.{digits}f}"
    return text


def rows_table(table):
    metric = table["rows"][0]["metric"]
    unit = " (%)" if metric == "accuracy" else ""
    lines = [
        f"| arm | rate | epochs | seeds | final val {metric}{unit} | best val {metric}{unit} | test {metric}{unit} "
        "| epochs to best constant-rate val | wall time (s) | diverged |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table["rows"]:
        if r["epochs_to_baseline_best"] is not None:
            reached = f"{r['epochs_to_baseline_best']:.1f}"
        elif r["seeds_reaching_baseline_best"] is not None:
            reached = f"never ({r['seeds_reaching_baseline_best']}/{r['seeds_compared_to_baseline']} seeds reach it)"
        else:
            reached = "n/a"
        diverged = f"{r['diverged_runs']} (steps {r['diverged_steps']})" if r["diverged_runs"] else "0"
        wall = f"{r['wall_time_mean']:.0f}" if r["wall_time_mean"] is not None else "n/a"
        lines.append(
            f"| {r['arm']} | {what_ran(r) or format(r['lr'], '.3g')} | {r['epochs']} | {r['seeds']} "
            f"| {fmt(r['final_val_mean'], metric, r['final_val_std'])} "
            f"| {fmt(r['best_val_mean'], metric, r['best_val_std'])} | {fmt(r['test_mean'], metric, r['test_std'])} "
            f"| {reached} | {wall} | {diverged} |"
        )
    return "\n".join(lines)


def chosen_table(table):
    metric = table["rows"][0]["metric"]
    lines = [
        "| family | epochs | rates tried | chosen on seeds | chosen | its best val (mean of its seeds) | at grid edge |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in table["chosen"]:
        rates = ", ".join(f"{r:.3g}" for r in c["rates_tried"])
        seeds = ", ".join(str(s) for s in c["chosen_on_seeds"])
        lines.append(
            f"| {c['family']} | {c['epochs']} | {rates} | {seeds} | {c['arm']} ({c['lr']:.3g}) "
            f"| {fmt(c['best_val_mean'], metric)} | {'**yes**' if c['at_edge'] else 'no'} |"
        )
    return "\n".join(lines)


def comparisons_table(table):
    metric = table["rows"][0]["metric"]
    lines = [
        "| arm | against | on | seeds | mean difference ± std | standard error | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in table["comparisons"]:
        lines.append(
            f"| {c['arm']} | {c['against']} ({c['against_epochs']} epochs) | {c['value'].replace('_', ' ')} "
            f"| {len(c['seeds'])} | {fmt(c['mean'], metric, c['std'], signed=True)} | {fmt(c['se'], metric)} "
            f"| **{c['verdict']}** |"
        )
    return "\n".join(lines)


def product_row(table):
    """The row of the `onecycle` arm (None when the run has none)."""
    return next((r for r in table["rows"] if r["base_arm"] == "onecycle"), None)


def what_ran(row):
    """Per seed, what a row of the product trained (its own range test's peak, or the guard's constant
    rate), e.g. "1cycle to 0.157, 0.119, 0.912" or "s0 constant 0.001 (guard), s1 1cycle to 0.0320";
    None for rows whose rate is the same on every seed."""
    if not row.get("per_seed"):
        return None
    runs = row["per_seed"]
    if all(r["ran"] == "1cycle" for r in runs):
        return "1cycle to " + ", ".join(f"{r['rate']:.3g}" for r in runs)
    return ", ".join(
        f"s{r['seed']} constant {r['rate']:.3g} (guard)"
        if r["ran"] == "constant"
        else f"s{r['seed']} 1cycle to {r['rate']:.3g}"
        for r in runs
    )


def no_comparison(table):
    """Why a table holds no paired comparison: no `onecycle` arm, or nothing else to pair it with."""
    if product_row(table) is not None:
        return "Only `onecycle` ran, no arm to pair it with"
    return "No `onecycle` arm ran"


def answer(table):
    """The report's first lines: the best arm on validation and each paired verdict of `onecycle`."""
    metric = table["rows"][0]["metric"]
    higher = stats.higher_is_better(metric)
    ranked = [r for r in table["rows"] if r["best_val_mean"] is not None]
    if not ranked:
        return ["No training produced a validation value."]
    best = (max if higher else min)(ranked, key=lambda r: r["best_val_mean"])
    lines = [
        f"- Best arm on validation (mean best val {metric}): **{best['arm']}**, "
        f"{fmt(best['best_val_mean'], metric, best['best_val_std'])} over {best['seeds']} seed(s)."
    ]
    verdicts = [c for c in table["comparisons"] if c["value"] == "best_val"]
    tests = {(c["arm"], c["against"]): c for c in table["comparisons"] if c["value"] == "test"}
    for c in verdicts:
        test = tests.get((c["arm"], c["against"]))
        if test is None or test["mean"] is None:
            on_test = "; no test figures"
        elif test["verdict"] == "n/a":
            on_test = (
                f"; on test: {fmt(test['mean'], metric, signed=True)} (fewer than 2 paired seeds: no verdict)"
            )
        else:
            shown = fmt(test["mean"], metric, signed=True)
            on_test = f"; on test: {shown} (se {fmt(test['se'], metric)}), {test['verdict']}"
        lines.append(
            f"- `{c['arm']}` against `{c['against']}` (the best of its family on validation): "
            f"**{c['verdict']}** on best val ({fmt(c['mean'], metric, signed=True)}, se {fmt(c['se'], metric)}, "
            f"{len(c['seeds'])} paired seeds){on_test}."
        )
    if not verdicts:
        lines.append(f"- {no_comparison(table)}: no paired verdicts.")
    return lines


def command_line(config):
    options = []
    for key, value in config.items():
        if (
            key in ("command", "dataset")
            or value in (None, False, "")
            or (key == "arms" and config["command"] == "train")
        ):
            continue
        flag = f"--{key.replace('_', '-')}"
        options.append(flag if value is True else f"{flag} {value}")
    return " ".join(["onecycle", config["command"], config["dataset"], *options])


EXPLANATION = (
    "Mean ± sample standard deviation (ddof=1) over seeds. Rates are the constant rate or the peak; for the "
    "arms that run their own range test, what each seed trained: 1cycle to its own peak, or the constant "
    "rate the guard fell back to. "
    "Every baseline family's rate is chosen on validation data by {statistic}; the test split chooses "
    'nothing. "Epochs to best constant-rate val": for each seed, the first epoch at which the arm\'s '
    "validation curve reaches that seed's best value of the best constant rate ({baseline}); the mean over "
    "seeds when every seed reaches it. Paired comparisons: the difference per seed (same initial weights and "
    'data order), its mean ± std and standard error; "beats"/"loses" only beyond two standard errors, '
    'otherwise "tie".'
)


def markdown(path, config, results, table, finder):
    dataset = results["dataset"]
    lines = [f"# {dataset['name']}", "", f"Command: `{command_line(config)}`", ""]
    if results.get("baselines"):
        lines += [
            "Baselines from other run folders: " + ", ".join(f"`{b}`" for b in results["baselines"]) + ".",
            "",
        ]
    lines += [
        f"Data: {dataset['source']}; {dataset['train']} train, {dataset['val']} validation, {dataset['test']} "
        "test samples; inputs standardized with training statistics."
        + (" No test split was given: the test columns are n/a." if not dataset["test"] else ""),
        "",
        f"Model: {results['model']}",
        "",
    ]
    if dataset["name"] == "boston_housing":
        lines += [
            "Boston Housing's B column has an ethically problematic derivation (the reason scikit-learn "
            "removed the dataset); it is used here only to reproduce the original experiment.",
            "",
        ]
    if finder is not None:
        lines += [
            f"Range test: suggested peak rate {results['max_lr']:.4g} ({config['method']}); {len(finder.lrs)} steps"
            f"{', stopped at divergence' if finder.diverged else ''}.",
            "",
            "![range test](finder.png)",
            "",
        ]
    elif results.get("max_lr"):
        lines += [f"Rate given: {results['max_lr']:.4g}.", ""]
    if table is None:
        return "\n".join(lines)
    baseline = table["baseline"]["arm"] if table["baseline"] else "none run"
    used = sorted({r["base_arm"] for r in table["rows"]})
    guarded = [r for r in results["runs"] if r.get("guard")]
    if guarded:
        constant = sum(r["guard"]["chose"] == "constant" for r in guarded)
        judged = sorted({r["guard"].get("judged_by", "loss") for r in guarded})
        table_note = (
            f"- `fit_one_cycle`'s guard ran in {len(guarded)} training(s) of the `onecycle` arms and chose the "
            f"compiled rate held constant in {constant} of them (1cycle in the others), judged by "
            f"{' and '.join(judged)} on its hold-out (what each seed ran: the table below)."
        )
    lines[2:2] = ["## Answer", "", *answer(table), *([table_note] if guarded else []), ""]
    lines += [
        "## Results",
        "",
        rows_table(table),
        "",
        EXPLANATION.format(statistic=table["statistic"], baseline=baseline),
        "",
        "Arms: " + "; ".join(f"`{a}`: {arms.get(a).description}" for a in used) + ".",
        "",
        "## Baselines chosen on validation data",
        "",
        chosen_table(table),
        "",
        "## Paired comparisons",
        "",
        comparisons_table(table) if table["comparisons"] else no_comparison(table) + ".",
        "",
        "![validation metric](val_metric.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def write(path, config=None, results=None):
    """Summarize, plot and write report.md and results.json of a run folder; the folder's files are
    read only when `config` and `results` are not given. Returns the path of report.md."""
    if results is None:
        config, results = folders.load_folder(path)
    runs = folders.all_runs(path, config, results)
    table = summary.summarize(runs, results["dataset"]["metric"]) if runs else None
    if table:
        results["summary"] = table["rows"]
        results["selection"] = {k: table[k] for k in ("statistic", "baseline", "chosen", "comparisons")}
    finder_path = os.path.join(path, "finder.json")
    finder = LRFinderResult.load(finder_path) if os.path.exists(finder_path) else None
    if finder is not None:
        plots.save_finder_plot(finder, os.path.join(path, "finder.png"), config["method"])
    if runs:
        names = summary.names(summary.groups(runs))
        plots.save_schedule_plot(runs, names, os.path.join(path, "schedules.png"))
        plots.save_metric_plot(
            runs, names, table, results["dataset"]["name"], os.path.join(path, "val_metric.png")
        )
    report_path = os.path.join(path, "report.md")
    storage.write_text(report_path, markdown(path, config, results, table, finder))
    storage.write_json(os.path.join(path, "results.json"), results)
    return report_path
