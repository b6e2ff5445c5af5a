"""The summary of a comparison, computed from its runs in memory: one row per arm, rate and budget;
the best rate of each baseline family chosen on validation data; paired comparisons.

The one statistic used to choose and to rank everywhere: the mean over seeds of each seed's best
validation value (`best_val_mean`). The test split never chooses anything; it is reported beside.
"""

from __future__ import annotations

import warnings

import numpy as np

from onecycle.experiments import arms, milestones, stats

PRODUCT_ARM = "onecycle"


def normalize_runs(results: dict, optimizer: str, folder: str | None = None) -> list[dict]:
    """The runs of a results.json with `arm` under its registry name, `lr` (the rate the arm was
    given, or its Keras default) and `folder` filled in, for folders written before those fields."""
    runs = []
    for run in results["runs"]:
        arm = arms.get(run["arm"]).name
        lr = run.get("lr")
        if lr is None:
            lr = arms.rate_of(arm, optimizer, results.get("max_lr") or 1.0)
        runs.append({**run, "arm": arm, "lr": float(lr), "folder": folder})
    return runs


def group_key(run: dict) -> tuple:
    """(arm, rate, budget): the runs of one row of the summary."""
    return run["arm"], float(f"{run['lr']:.12g}"), run["planned_epochs"]


def groups(runs):
    """Runs grouped by `group_key`, in order of first appearance."""
    grouped = {}
    for run in runs:
        grouped.setdefault(group_key(run), []).append(run)
    return grouped


def names(keys):
    """A short unique name per group: the arm, with the rate where the arm ran at several rates and
    the budget where it ran for several budgets."""
    rates, budgets = {}, {}
    for arm, lr, epochs in keys:
        rates.setdefault(arm, set()).add(lr)
        budgets.setdefault(arm, set()).add(epochs)
    out = {}
    for arm, lr, epochs in keys:
        name = arm
        if len(rates[arm]) > 1:
            name += f"@{lr:.3g}"
        if len(budgets[arm]) > 1:
            name += f"/e{epochs}"
        out[(arm, lr, epochs)] = name
    return out


def _row(name, key, runs, higher, metric):
    arm, lr, epochs = key
    curves = milestones.val_curves(runs)
    bests = [milestones.best_and_epoch(c, higher) for c in curves]
    final = [r["epochs"][-1]["val_metric"] if r["epochs"] else None for r in runs]
    peaks = [r["peak_lr"] for r in runs if r.get("peak_lr") is not None]
    row = {
        "arm": name,
        "base_arm": arm,
        "family": arms.get(arm).family,
        "lr": float(np.mean(peaks)) if peaks else lr,  # own range tests: the mean of their peaks
        "metric": metric,
        "seeds": len(runs),
        "epochs": epochs,
        "folder": runs[0]["folder"],
    }
    for prefix, values in (
        ("final_val", final),
        ("best_val", [b for b, _ in bests]),
        ("test", [r["test_metric"] for r in runs]),
    ):
        row[f"{prefix}_mean"], row[f"{prefix}_std"] = stats.mean_std(values)
    row["best_val_by_seed"] = {str(r["seed"]): b for r, (b, _) in zip(runs, bests)}
    row["best_epoch_mean"] = stats.mean_std([e for _, e in bests])[0]
    row["wall_time_mean"] = stats.mean_std(
        [r["epochs"][-1]["wall_time"] if r["epochs"] else None for r in runs]
    )[0]
    row["per_seed"] = [_what_ran(r) for r in sorted(runs, key=lambda r: r["seed"])] if peaks else None
    row["diverged_runs"] = sum(r["diverged_step"] is not None for r in runs)
    row["diverged_steps"] = [r["diverged_step"] for r in runs if r["diverged_step"] is not None]
    return row


def _what_ran(run):
    """What a training of a product arm ran: 1cycle to its peak, or the guard's constant rate."""
    guard = run.get("guard")
    if guard and guard.get("chose") == "constant":
        return {"seed": run["seed"], "ran": "constant", "rate": guard["constant_rate"]}
    return {"seed": run["seed"], "ran": "1cycle", "rate": run.get("peak_lr")}


def _better(a, b, higher):
    return a > b if higher else a < b


def _shared_mean(row, seeds):
    values = [row["best_val_by_seed"][s] for s in seeds if row["best_val_by_seed"].get(s) is not None]
    return float(np.mean(values)) if values else None


def best_of(candidates, score, higher):
    """The candidate with the best `score` (None scores, diverged runs, never win; the first on a
    tie), or None: the one rule that picks a baseline's rate, in run folders and in benchmarks."""
    best = None
    for candidate in candidates:
        value = score(candidate)
        if value is not None and (best is None or _better(value, score(best), higher)):
            best = candidate
    return best


def at_edge(rates, rate):
    """Whether `rate` is the lowest or highest of the rates tried (then the grid should grow), or
    there are too few rates (under 3) to bracket anything."""
    rates = sorted(rates)
    return len(rates) < 3 or rate in (rates[0], rates[-1])


def choose(rows, higher):
    """The best row of each baseline family at each budget, with the rates tried and whether the best
    sits at an edge of them (then the grid should be extended). Rows are ranked by their mean best
    validation value over the seeds every candidate ran (a grid may run on one seed, the chosen
    rate then on all), so that every rate is judged on the same seeds. A tie goes to the row whose
    runs were stored first (`best_of`)."""
    chosen = []
    by_budget = {}
    for row in rows:
        if arms.get(row["base_arm"]).baseline and row["best_val_mean"] is not None:
            by_budget.setdefault((row["family"], row["epochs"]), []).append(row)
    for (family, epochs), candidates in sorted(by_budget.items()):
        seeds = set.intersection(*(set(r["best_val_by_seed"]) for r in candidates))
        score = {r["arm"]: _shared_mean(r, seeds) if seeds else r["best_val_mean"] for r in candidates}
        best = best_of(candidates, lambda r, score=score: score[r["arm"]], higher)
        if best is None:
            continue
        rates = sorted({r["lr"] for r in candidates})
        chosen.append(
            {
                "family": family,
                "epochs": epochs,
                "arm": best["arm"],
                "lr": best["lr"],
                "best_val_mean": best["best_val_mean"],
                "chosen_on_seeds": sorted(int(s) for s in seeds),
                "rates_tried": rates,
                "at_edge": at_edge(rates, best["lr"]),
            }
        )
    return chosen


def _by_seed(runs, value):
    return {r["seed"]: value(r) for r in runs}


def best_val(run: dict, higher: bool) -> float | None:
    """The best validation value of one run (None when it has none): the statistic that chooses."""
    return milestones.best_and_epoch(milestones.val_curves([run])[0], higher)[0]


def summarize(runs: list[dict], metric: str) -> list[dict]:
    """Rows, the chosen baselines, the paired comparisons of the product against each, and the
    epochs each arm takes to reach the best constant rate's best validation value."""
    higher = stats.higher_is_better(metric)
    grouped = groups(runs)
    named = names(grouped)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rows = [_row(named[key], key, group, higher, metric) for key, group in grouped.items()]
    chosen = choose(rows, higher)
    key_of = {named[k]: k for k in grouped}
    constants = [c for c in chosen if c["family"] == "constant"]
    baseline = None
    for c in constants:
        if baseline is None or _better(c["best_val_mean"], baseline["best_val_mean"], higher):
            baseline = c
    reach = milestones.epochs_to_baseline(grouped, key_of[baseline["arm"]], higher) if baseline else {}
    for row in rows:
        key = key_of[row["arm"]]
        row["baseline_arm"] = baseline["arm"] if baseline else None
        row["epochs_to_baseline_best"] = reach.get(key, {}).get("mean_epoch")
        row["seeds_reaching_baseline_best"] = reach.get(key, {}).get("reached")
        row["seeds_compared_to_baseline"] = reach.get(key, {}).get("seeds")
    comparisons = []
    products = [k for k in grouped if k[0] == PRODUCT_ARM]
    for product in products:
        for c in chosen:
            other = grouped[key_of[c["arm"]]]
            for value_name, value in (
                ("test", lambda r: r["test_metric"]),
                ("best_val", lambda r: best_val(r, higher)),
            ):
                pair = stats.paired(_by_seed(grouped[product], value), _by_seed(other, value), metric)
                comparisons.append(
                    {
                        "arm": named[product],
                        "against": c["arm"],
                        "family": c["family"],
                        "against_epochs": c["epochs"],
                        "value": value_name,
                        **pair.as_dict(),
                    }
                )
    return {
        "rows": rows,
        "chosen": chosen,
        "comparisons": comparisons,
        "baseline": baseline,
        "statistic": "mean over seeds of each seed's best validation value",
    }
