"""Generated blocks in markdown files: every table and verdict in the docs comes from stored files.

A block is written between two marker lines, and `python benchmarks/doc_tables.py FILE...` rewrites
what lies between them from the files the opening marker names (paths relative to the repository
root, where the command runs). This project's own tooling, beside the benchmarks whose JSON it reads;
it uses only the harness's public modules (report, summary, stats, storage):

    <!-- generated: rows docs/runs/digits -->
    ...
    <!-- end generated -->

Kinds: `rows RUN_DIR` (every arm), `chosen RUN_DIR` (the baselines chosen on validation data), `comparisons
RUN_DIR` (paired differences), `verdicts RUN_DIR` (one sentence per paired comparison on the test split),
`headline RUN_DIR...` (one line per run folder, for the README), `arms RUN_DIR...` (one line per run folder:
`onecycle` against the best of each tuned family, constant to schedule-free), `defaults RUN_DIR...`
(`onecycle` against Keras' default and ScheduleFreeAdamW's defaults, paired on final validation and test, and
the goals of never losing to them and beating Keras' default on half), `epochs RUN_DIR` (epochs to the
best constant rate's best validation value), `goal RUN_DIR ARM FIELD OP THRESHOLD` (an arm's mean over seeds
against a goal, met beyond two standard errors), `margin RUN_DIR FAMILY THRESHOLD` (`onecycle`'s paired test
gain over the best of a family against a goal), `across RUN_A RUN_B ARM` (one arm in two run folders, paired
by seed on its best validation value), `no_loses RUN_DIR FAMILY...` (`onecycle`'s verdict against the best of
each family, and the goal of no "loses"), `environment PATH...` (the machine and library versions each run
folder or benchmark file recorded), `benchmark JSON_FILE` (a benchmark's tables, computed again from the raw
figures its JSON stores where its `kind` is one of `benchmark_tables.KINDS`, else the markdown it stored),
`finder_quality JSON_FILE` (benchmarks/finder_quality.py's output), `recipe JSON_FILE...`
(benchmarks/recipe.py's outputs: each variant's paired effect, one column per task), `recipe_goals
JSON_FILE...` (the defaults against the best cosine and Keras' default).
`--check` writes nothing and fails when a file is out of date.
"""

import argparse
import json
import math
import os
import re
import sys

import numpy as np

import benchmark_tables
from onecycle.experiments import folders, milestones, report, stats, storage, summary


class DocsError(ValueError):
    """A marker that names an unknown kind or a missing file."""


BLOCK = re.compile(r"(<!-- generated: (?P<spec>[^\n]*?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def _table(run_dir):
    """The summary of a run folder (its baseline folders included), computed from its stored runs."""
    config, results = folders.load_folder(run_dir)
    runs = folders.all_runs(run_dir, config, results)
    return summary.summarize(runs, results["dataset"]["metric"]), results


def _how_trained(run_dir):
    """How a folder's `onecycle` runs were trained: their optimizer and the range test's rule, and
    the optimizer of the baseline folders where it differs, e.g. "adam, edge; arms: sgd"."""
    config, results = folders.load_folder(run_dir)
    others = sorted(
        {
            folders.load_folder(os.path.normpath(os.path.join(run_dir, b)))[0]["optimizer"]
            for b in results.get("baselines", [])
        }
        - {config["optimizer"]}
    )
    return f"{config['optimizer']}, {config['method']}" + (f"; arms: {', '.join(others)}" if others else "")


def _verdicts(run_dir):
    table, results = _table(run_dir)
    metric = table["rows"][0]["metric"]
    what = "points of test accuracy" if metric == "accuracy" else f"test {metric} (lower is better)"
    lines = []
    for c in table["comparisons"]:
        if c["value"] != "test":
            continue
        words = {
            "beats": "**beats**",
            "loses": "**loses to**",
            "tie": "**ties with**",
            "n/a": "cannot be compared with",
        }
        detail = (
            f"{report.fmt(c['mean'], metric, signed=True)} {what}, paired over {len(c['seeds'])} seeds"
            + (
                f", std {report.fmt(c['std'], metric)}, standard error {report.fmt(c['se'], metric)}"
                if c["verdict"] != "n/a"
                else ""
            )
        )
        lines.append(
            f"- `{c['arm']}` {words[c['verdict']]} `{c['against']}` ({c['against_epochs']} epochs, the best "
            f"{c['family']} rate chosen on validation data): {detail}."
        )
    return "\n".join(lines)


def _headline(run_dirs, where="."):
    lines = [
        "| run | test: onecycle | test: best constant (chosen on val) | test: best cosine (chosen on val) "
        "| paired verdicts (test) |",
        "|---|---|---|---|---|",
    ]
    for run_dir in run_dirs:
        table, results = _table(run_dir)
        rows = {r["arm"]: r for r in table["rows"]}
        metric = table["rows"][0]["metric"]
        product = report.product_row(table)
        cells = []
        for family in ("constant", "cosine"):
            picks = [c for c in table["chosen"] if c["family"] == family]
            pick = max(picks, key=lambda c: c["epochs"]) if picks else None
            row = rows.get(pick["arm"]) if pick else None
            cells.append(
                f"{report.fmt(row['test_mean'], metric, row['test_std'])} ({row['arm']}, {row['epochs']} epochs, "
                f"{row['seeds']} seeds)"
                if row
                else "not run"
            )
        verdicts = "; ".join(
            f"{c['verdict']} vs {c['against']}"
            for c in table["comparisons"]
            if c["value"] == "test" and c["arm"] == (product or {}).get("arm")
        )
        first = (
            f"{report.fmt(product['test_mean'], metric, product['test_std'])} ({product['epochs']} epochs, "
            f"{product['seeds']} seeds; {report.what_ran(product) or 'peak ' + format(product['lr'], '.3g')})"
            if product
            else "not run"
        )
        lines.append(
            f"| [{results['dataset']['name']}]({os.path.relpath(run_dir, where)}/report.md) "
            f"({metric}) | {first} | {cells[0]} | {cells[1]} | {verdicts or 'n/a'} |"
        )
    return "\n".join(lines)


FAMILIES = ("constant", "cosine", "wsd", "linear", "schedule-free")


def _versus_family(table, product, family):
    """The paired test comparison of the product row with the chosen arm of `family` trained the
    longest (None when there is none)."""
    found = [
        c
        for c in table["comparisons"]
        if product and c["arm"] == product["arm"] and c["value"] == "test" and c["family"] == family
    ]
    return max(found, key=lambda c: c["against_epochs"]) if found else None


def _arms(run_dirs, where="."):
    """`arms RUN_DIR...`: per run, `onecycle`'s test figure and its paired test verdict against the
    best arm of each family chosen on validation (gain, standard error)."""
    tables = [(run_dir, *_table(run_dir)) for run_dir in run_dirs]
    families = [f for f in FAMILIES if any(c["family"] == f for _, t, _ in tables for c in t["comparisons"])]
    lines = [
        "| run | test: onecycle | " + " | ".join(f"vs best {f}" for f in families) + " |",
        "|---|---|" + "---|" * len(families),
    ]
    for run_dir, table, results in tables:
        metric = table["rows"][0]["metric"]
        product = report.product_row(table)
        cells = []
        for family in families:
            c = _versus_family(table, product, family)
            if c is None:
                cells.append("not run")
                continue
            figures = (
                f" {report.fmt(c['mean'], metric, signed=True)}, se {report.fmt(c['se'], metric)}"
                if c["verdict"] != "n/a"
                else ""
            )
            cells.append(f"{c['verdict']} ({c['against']}{figures})")
        first = (
            f"{report.fmt(product['test_mean'], metric, product['test_std'])} ({product['seeds']} seeds; "
            f"{_how_trained(run_dir)}; {report.what_ran(product) or 'peak ' + format(product['lr'], '.3g')})"
            if product
            else "not run"
        )
        lines.append(
            f"| [{results['dataset']['name']}]({os.path.relpath(run_dir, where)}/report.md) ({metric}) "
            f"| {first} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


DEFAULT_ARMS = ("constant-default", "schedule-free-default")  # Keras' default; ScheduleFreeAdamW's defaults


def _final_values(runs, arm, epochs=None):
    """`{seed: (final validation value, test value)}` of `arm`'s runs (of `epochs` planned epochs
    when given; the final value is None for a run that diverged)."""
    out = {}
    for run in runs:
        if run["arm"] == arm and epochs in (None, run["planned_epochs"]):
            curve = milestones.val_curves([run])[0]
            finite = curve[np.isfinite(curve)]
            out[run["seed"]] = (
                float(finite[-1]) if finite.size and len(finite) == len(curve) else None,
                run["test_metric"],
            )
    return out


def _defaults(run_dirs, where="."):
    """`defaults RUN_DIR...`: per run, `onecycle` against Keras' default (`constant-default`) and
    ScheduleFreeAdamW's defaults (`schedule-free-default`), paired by seed on the final validation
    value (the statistic the studies judge by) and on test; then the goals set for them: never loses
    to either on validation, and beats Keras' default on at least half of the runs."""
    lines = [
        "| run | onecycle: final val (what ran) | vs Keras' default (val) | vs ScheduleFreeAdamW's defaults (val) "
        "| vs Keras' default (test) | vs ScheduleFreeAdamW's defaults (test) |",
        "|---|---|---|---|---|---|",
    ]
    never_loses, beats_keras, judged = 0, 0, 0
    for run_dir in run_dirs:
        config, results = folders.load_folder(run_dir)
        runs = folders.all_runs(run_dir, config, results)
        metric = results["dataset"]["metric"]
        table = summary.summarize(runs, metric)
        budgets = {r["planned_epochs"] for r in runs if r["arm"] == summary.PRODUCT_ARM}
        if len(budgets) != 1:
            raise DocsError(
                f"defaults: {run_dir} needs `onecycle` runs of one budget. Received: {sorted(budgets)}"
            )
        epochs = budgets.pop()
        product = _final_values(runs, summary.PRODUCT_ARM, epochs)
        cells, verdicts = [], {}
        for position in (0, 1):
            for arm in DEFAULT_ARMS:
                other = _final_values(runs, arm, epochs)
                pair = stats.paired(
                    {s: v[position] for s, v in product.items()},
                    {s: v[position] for s, v in other.items()},
                    metric,
                ).as_dict()
                cells.append(_effect(pair, metric) if other else "not run")
                if position == 0:
                    verdicts[arm] = pair["verdict"] if other else "not run"
        values = [v[0] for v in product.values() if v[0] is not None]
        row = report.product_row(table)
        shown = report.fmt(
            float(np.mean(values)), metric, float(np.std(values, ddof=1)) if len(values) > 1 else None
        )
        ran = (row and report.what_ran(row)) or ""
        lines.append(
            f"| [{results['dataset']['name']}]({os.path.relpath(run_dir, where)}/report.md) ({metric}) "
            f"| {shown} ({len(product)} seeds; {_how_trained(run_dir)}{'; ' + ran if ran else ''}) | "
            + " | ".join(cells)
            + " |"
        )
        if all(v in ("beats", "tie", "loses") for v in verdicts.values()):
            judged += 1
            never_loses += "loses" not in verdicts.values()
            beats_keras += verdicts["constant-default"] == "beats"
    lines += [
        "",
        f"Never loses to either default (validation): {never_loses} of {judged} runs "
        f"({'met' if never_loses == judged else '**missed**'}). Beats Keras' default: {beats_keras} of {judged} "
        f"(goal: at least half, {'met' if 2 * beats_keras >= judged else '**missed**'}).",
    ]
    return "\n".join(lines)


def _goal(args):
    """`goal RUN_DIR ARM FIELD OP THRESHOLD`: one line with the arm's figure over its seeds and the
    goal: met only when the mean clears THRESHOLD by two standard errors of the mean, missed when the
    mean is on the wrong side of it, otherwise not shown; not judged on fewer than 2 seeds."""
    run_dir, arm, field, op, threshold = args
    if op not in ("<", ">"):
        raise DocsError(f"goal: the operator must be < or >. Received: {op!r}")
    table, _ = _table(run_dir)
    rows = [r for r in table["rows"] if r["arm"] == arm]
    if not rows:
        raise DocsError(f"goal: {run_dir} has no arm {arm!r}")
    row, threshold = rows[0], float(threshold)
    value, std, seeds = row[f"{field}_mean"], row.get(f"{field}_std"), row["seeds"]
    sign = 1 if op == ">" else -1
    if value is None or std is None or seeds < 2:
        outcome = "not judged (fewer than 2 seeds)"
    elif sign * (value - threshold) - 2 * std / math.sqrt(seeds) > 0:
        outcome = "met"
    elif sign * (value - threshold) <= 0:
        outcome = "missed"
    else:
        outcome = "not shown beyond two standard errors"
    shown = report.fmt(value, row["metric"], std)
    goal = report.fmt(threshold, row["metric"])
    return (
        f"`{arm}` {field.replace('_', ' ')} {row['metric']}: {shown} over {seeds} seed{'s' if seeds != 1 else ''}; "
        f"goal ({op} {goal}) **{outcome}**."
    )


def _environments(path, prefix=""):
    """[(name, file, records, total)]: the `environment` records of a run folder's runs (of each run
    folder inside it, for a folder of run folders) or of a benchmark file."""
    if os.path.isdir(path):
        results = os.path.join(path, "results.json")
        if not os.path.exists(results):
            inner = sorted(os.path.join(path, d) for d in os.listdir(path))
            name = os.path.basename(os.path.normpath(path))
            return [
                found for d in inner if os.path.isdir(d) for found in _environments(d, f"{prefix}{name}/")
            ]
        runs = storage.read_json(results)["runs"]
        name = prefix + os.path.basename(os.path.normpath(path))
        return [(name, results, [r.get("environment") for r in runs], len(runs))]
    record = storage.read_json(path)
    if isinstance(record, dict) and "environment" in record:
        records = [record["environment"]]
    else:
        runs = record if isinstance(record, list) else record.get("runs", [])
        records = [r.get("environment") for r in runs if isinstance(r, dict)]
    return [(os.path.basename(path), path, records or [None], max(len(records), 1))]


def _environment(paths, where="."):
    """`environment PATH...`: the machine and library versions each run folder or benchmark file
    recorded, one line per distinct record (files older than the record say so)."""
    lines = [
        "| file | runs | processor | cores | device | Python | onecycle | Keras | backend |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        for name, target, records, total in _environments(path):
            link = f"[{name}]({os.path.relpath(target, where)})"
            distinct = {}
            for env in records:
                distinct.setdefault(json.dumps(env, sort_keys=True), [env, 0])[1] += 1
            for env, count in distinct.values():
                share = f"{count} of {total}" if total > 1 else "1"
                if env is None:
                    lines.append(f"| {link} | {share} | not recorded | | | | | | |")
                    continue
                backend = env.get("backend", "")
                lines.append(
                    f"| {link} | {share} | {env.get('processor') or env.get('machine', '')} "
                    f"| {env.get('cpu_count', '')} | {env.get('device', '')} | {env.get('python', '')} "
                    f"| {env.get('onecycle', '')} | {env.get('keras', '')} | {backend} {env.get(backend, '')} |"
                )
    return "\n".join(lines)


def _margin(args):
    """`margin RUN_DIR FAMILY THRESHOLD`: `onecycle`'s paired test gain over the best arm of FAMILY
    (chosen on validation data) against a goal of at least THRESHOLD (in the metric's units, oriented
    so that positive is better). Met only when the gain exceeds the goal by two standard errors;
    missed when the mean gain is below it; otherwise not shown."""
    run_dir, family, threshold = args
    table, _ = _table(run_dir)
    product = report.product_row(table)
    c, threshold = _versus_family(table, product, family), float(threshold)
    if c is None:
        raise DocsError(f"margin: {run_dir} has no paired test comparison of onecycle with a {family} arm")
    metric = product["metric"]
    goal = report.fmt(threshold, metric, signed=True)
    what = (
        "points of test accuracy"
        if metric == "accuracy"
        else f"test {metric}, oriented so that positive is better"
    )
    if c["verdict"] == "n/a":
        return f"`{c['arm']}` against `{c['against']}`: fewer than 2 paired seeds; goal (at least {goal}) **not judged**."
    if c["gain"] - 2 * c["se"] >= threshold:
        outcome = "met"
    elif c["gain"] < threshold:
        outcome = "missed"
    else:
        outcome = "not shown beyond two standard errors"
    return (
        f"`{c['arm']}` against `{c['against']}` (the best {family} rate chosen on validation data): "
        f"{report.fmt(c['gain'], metric, signed=True)} {what}, paired over {len(c['seeds'])} seeds, "
        f"standard error {report.fmt(c['se'], metric)}; goal (at least {goal}) **{outcome}**."
    )


def _no_loses(args):
    """`no_loses RUN_DIR FAMILY...`: `onecycle`'s paired test verdict against the best arm of each
    family (chosen on validation data) and the goal of no "loses": missed when one loses, met when
    every family has a verdict and none loses, otherwise not judged yet (a family not run, or on
    fewer than 2 paired seeds)."""
    run_dir, *families = args
    if not families:
        raise DocsError(f"no_loses: name the families after {run_dir}")
    table, _ = _table(run_dir)
    product = report.product_row(table)
    if product is None:
        raise DocsError(f"no_loses: {run_dir} has no onecycle arm")
    metric, parts, losses, open_ = product["metric"], [], [], []
    for family in families:
        c = _versus_family(table, product, family)
        if c is None:
            parts.append(f"{family}: not run")
            open_.append(family)
        elif c["verdict"] == "n/a":
            n = len(c["seeds"])
            parts.append(f"`{c['against']}`: {n} paired seed{'' if n == 1 else 's'}, not judged")
            open_.append(family)
        else:
            parts.append(
                f"`{c['against']}`: {c['verdict']} ({report.fmt(c['mean'], metric, signed=True)}, "
                f"se {report.fmt(c['se'], metric)})"
            )
            if c["verdict"] == "loses":
                losses.append(c["against"])
    if losses:
        outcome = "**missed** (loses to " + ", ".join(f"`{a}`" for a in losses) + ")"
    elif open_:
        outcome = "**not judged yet** (" + ", ".join(open_) + " still running)"
    else:
        outcome = "**met**"
    return (
        f"`{product['arm']}` against the best of each family: "
        + "; ".join(parts)
        + f"; goal (no loses) {outcome}."
    )


def _across(args):
    """`across RUN_A RUN_B ARM`: the same arm in two run folders (two optimizers, say) compared seed
    by seed on its best validation value, the figure a choice between them is made on."""
    run_a, run_b, arm = args
    rows = []
    for run_dir in (run_a, run_b):
        table, _ = _table(run_dir)
        row = next((r for r in table["rows"] if r["arm"] == arm), None)
        if row is None:
            raise DocsError(f"across: {run_dir} has no arm {arm!r}")
        rows.append(row)
    a, b = rows
    if a["metric"] != b["metric"]:
        raise DocsError(f"across: {run_a} measures {a['metric']}, {run_b} measures {b['metric']}")
    metric = a["metric"]
    c = stats.paired(a["best_val_by_seed"], b["best_val_by_seed"], metric)
    if c.verdict == "n/a":
        return f"`{arm}` in {run_a} against {run_b}: fewer than 2 paired seeds, **not judged**."
    words = {"beats": "**beats**", "loses": "**loses to**", "tie": "**ties with**"}
    return (
        f"`{arm}` in {run_a} {words[c.verdict]} `{arm}` in {run_b} on best validation {metric}: "
        f"{report.fmt(a['best_val_mean'], metric, a['best_val_std'])} against "
        f"{report.fmt(b['best_val_mean'], metric, b['best_val_std'])}, paired difference "
        f"{report.fmt(c.mean, metric, signed=True)} over {len(c.seeds)} seeds, std "
        f"{report.fmt(c.std, metric)}, standard error {report.fmt(c.se, metric)}."
    )


def _epochs_claim(args):
    """`epochs RUN_DIR`: the epoch at which the best constant rate reaches its best validation value
    and the epoch at which each onecycle arm first reaches it, per seed, and the ratio."""
    table, _ = _table(args[0])
    baseline = table["baseline"]
    rows = {r["arm"]: r for r in table["rows"]}
    if baseline is None:
        raise DocsError(f"epochs: {args[0]} holds no constant-rate arm")
    own = rows[baseline["arm"]]
    lines = [
        f"- The best constant rate, `{own['arm']}` ({own['epochs']} epochs, chosen on validation data), reaches "
        f"its best validation {own['metric']} at epoch {own['best_epoch_mean']:.1f} (mean over its "
        f"{own['seeds']} seeds)."
    ]
    for row in table["rows"]:
        if row["base_arm"] != "onecycle":
            continue
        reached = row["epochs_to_baseline_best"]
        if reached is None:
            lines.append(
                f"- `{row['arm']}` ({row['epochs']} epochs) does not reach it on every seed "
                f"({row['seeds_reaching_baseline_best']}/{row['seeds']} seeds): goal **missed**."
            )
            continue
        ratio = reached / own["best_epoch_mean"]
        verdict = "met" if ratio <= 1 / 3 + 1e-9 else "missed"
        lines.append(
            f"- `{row['arm']}` ({row['epochs']} epochs) first reaches it at epoch {reached:.1f} (mean over "
            f"{row['seeds_reaching_baseline_best']} seeds): {ratio:.2f} of the constant rate's epochs; "
            f"goal (at most a third) **{verdict}**."
        )
    return "\n".join(lines)


def _finder_quality(path):
    """The range-test quality benchmark's JSON (benchmarks/finder_quality.py)."""
    record = storage.read_json(path)
    grid = record["grid"]
    best = max(grid, key=lambda g: g["best_val"])
    lines = [
        "| peak rate | " + " | ".join(f"{g['max_lr']:.3g}" for g in grid) + " |",
        "|---|" + "---|" * len(grid),
        "| best val accuracy (mean of seeds) | " + " | ".join(f"{g['best_val']:.4f}" for g in grid) + " |",
        "",
        "| method | suggested max_lr | best val accuracy | grid best | gap (points) |",
        "|---|---|---|---|---|",
    ]
    for method, r in record["methods"].items():
        lines.append(
            f"| {method} | {r['max_lr']:.4g} | {r['best_val']:.4f} | {best['best_val']:.4f} "
            f"| {100 * (best['best_val'] - r['best_val']):+.2f} |"
        )
    lines += [
        "",
        f"Range test: {record['finder_seconds']:.1f} s = {record['finder_seconds'] / record['run_seconds']:.1%} "
        f"of one training run ({record['run_seconds']:.0f} s, the mean over the grid's runs).",
    ]
    return "\n".join(lines)


def _benchmark(path):
    record = storage.read_json(path)
    if record.get("kind") in benchmark_tables.KINDS:
        return benchmark_tables.render(record)
    if "table" not in record:
        raise DocsError(f"{path} holds no 'table'")
    return record["table"]


def _effect(paired, metric):
    if paired is None or paired["verdict"] == "n/a":
        return "n/a"
    unit = " pts" if stats.higher_is_better(metric) else ""
    mean, se = report.fmt(paired["mean"], metric, signed=True), report.fmt(paired["se"], metric)
    return f"{mean}{unit} (se {se}): {paired['verdict']}"


def _recipe(paths):
    """One row per variant, one column per task: its paired effect on the final validation metric
    against each task's reference variant."""
    records = [storage.read_json(p) for p in paths]
    variants = []
    for record in records:
        variants += [r["variant"] for r in record["rows"] if r["variant"] not in variants]
    header = [f"{r['setup']['dataset']} ({r['metric']}, vs `{r['reference']}`)" for r in records]
    lines = ["| choice | " + " | ".join(header) + " |", "|---|" + "---|" * len(records)]
    for name in variants:
        cells = []
        for record in records:
            row = next((r for r in record["rows"] if r["variant"] == name), None)
            if row is None:
                cells.append("not run")
            else:
                cells.append(
                    "reference"
                    if name == record["reference"]
                    else _effect(row["vs_reference"], record["metric"])
                )
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    qualified = _qualified(records, variants)
    lines += [
        "",
        "Beat the reference on at least one task and lose on none: "
        + (", ".join(f"`{n}`" for n in qualified) or "none")
        + ".",
    ]
    return "\n".join(lines)


def _qualified(records, variants):
    """The variants that beat each task's reference somewhere and lose nowhere (the decision rule of
    docs/RECIPE.md), best mean gain first."""
    chosen = []
    for name in variants:
        effects = [
            row["vs_reference"]
            for record in records
            for row in record["rows"]
            if row["variant"] == name and row["vs_reference"] is not None
        ]
        verdicts = [e["verdict"] for e in effects]
        if "beats" in verdicts and "loses" not in verdicts:
            chosen.append((sum(e["gain"] / abs(e["se"] or 1) for e in effects), name))
    return [name for _, name in sorted(chosen, reverse=True)]


def _recipe_goals(paths):
    """`recipe_goals JSON_FILE...`: per task, the reference variant (the defaults) against the best
    cosine and Keras' default: goal met when it ties or beats the first and beats the second."""
    lines = [
        "| task | defaults: final val | vs best cosine | vs Keras default | no worse than cosine "
        "| better than Keras default |",
        "|---|---|---|---|---|---|",
    ]
    for path in paths:
        record = storage.read_json(path)
        row = next(r for r in record["rows"] if r["variant"] == record["reference"])
        versus = list(row["vs_baselines"].values())
        if len(versus) != 2:
            raise DocsError(f"recipe_goals: {path} holds no baselines")
        cosine, keras_default = versus
        mean, std = row["final_val"]
        digits = 4 if stats.higher_is_better(record["metric"]) else 3
        lines.append(
            f"| {record['setup']['dataset']} ({record['metric']}) | {mean:.{digits}f} ± {std:.{digits}f} "
            f"| {_effect(cosine, record['metric'])} | {_effect(keras_default, record['metric'])} "
            f"| {'met' if cosine['verdict'] != 'loses' else '**missed**'} "
            f"| {'met' if keras_default['verdict'] == 'beats' else '**missed**'} |"
        )
    return "\n".join(lines)


def _versus(row, label):
    """The paired comparison of a variant's row against the baseline whose key starts with `label`."""
    for key, paired in row["vs_baselines"].items():
        if key.startswith(label):
            return paired
    return None


def _small_tables(paths):
    """`small_tables JSON_FILE...`: every variant of the second recipe study against Keras' default
    and ScheduleFreeAdamW's default on each task, and the decision rule of docs/RECIPE.md applied:
    the variants that lose to neither anywhere, ranked by how many tasks they beat Keras' default
    on, then by their mean standardized gain (difference / se) over the reference."""
    records = [storage.read_json(p) for p in paths]
    variants = []
    for record in records:
        variants += [r["variant"] for r in record["rows"] if r["variant"] not in variants]
    header = [f"{r['setup']['dataset']} ({r['metric']})" for r in records]
    lines = [
        "| variant | " + " | ".join(header) + " |",
        "|---|" + "---|" * len(records),
    ]
    ranked = []
    for name in variants:
        cells, loses, beats, gains = [], False, 0, []
        for record in records:
            row = next((r for r in record["rows"] if r["variant"] == name), None)
            if row is None:
                cells.append("not run")
                loses = True
                continue
            keras_default = _versus(row, "keras-default")
            schedule_free = _versus(row, "schedule-free-default")
            cells.append(
                f"vs Keras: {_effect(keras_default, record['metric'])}; "
                f"vs ScheduleFree: {_effect(schedule_free, record['metric'])}"
            )
            verdicts = [v["verdict"] for v in (keras_default, schedule_free) if v is not None]
            loses = loses or "loses" in verdicts or len(verdicts) < 2
            beats += keras_default is not None and keras_default["verdict"] == "beats"
            reference = row["vs_reference"]
            if reference is not None and reference["se"]:
                gains.append(reference["gain"] / abs(reference["se"]))
            elif name != record["reference"]:
                gains.append(0.0)
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
        if not loses:
            ranked.append((beats, float(np.mean(gains)) if gains else 0.0, name))
    ranked.sort(reverse=True)
    shown = "; ".join(
        f"`{n}` (beats Keras' default on {b}, mean standardized gain {g:+.2f})" for b, g, n in ranked
    )
    lines += ["", f"Lose to neither default on any task, best first: {shown or 'none'}."]
    return "\n".join(lines)


def _guard_ran(record):
    """Per seed, what the `guard` variant trained: 1cycle to its peak, or the constant rate the
    guard chose (files stored before the guard recorded its choice: "not recorded")."""
    runs = sorted(
        (int(key.split("/")[1]), run) for key, run in record["runs"].items() if key.startswith("guard/")
    )
    if not all("guard" in run for _, run in runs):
        return "not recorded"
    return ", ".join(
        f"s{seed} constant {run['guard']['constant_rate']:.3g} (guard, by {run['guard'].get('judged_by', 'loss')})"
        if run["guard"]["chose"] == "constant"
        else f"s{seed} 1cycle to {run['lr']:.3g}"
        for seed, run in runs
    )


def _guard_goals(paths):
    """`guard_goals JSON_FILE...`: per task, the variant `guard` (fit_one_cycle's defaults since the
    guard) against Keras' default, ScheduleFreeAdamW's default and the best cosine, with the goals:
    never worse than either default, better than Keras' default, no worse than the best cosine."""
    lines = [
        "| task | fit_one_cycle: what ran per seed | final val | vs Keras default | vs ScheduleFreeAdamW default "
        "| vs best cosine | never worse than the defaults | better than Keras' default | no worse than cosine |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        record = storage.read_json(path)
        row = next((r for r in record["rows"] if r["variant"] == "guard"), None)
        if row is None:
            raise DocsError(f"guard_goals: {path} has no variant 'guard'")
        keras_default, schedule_free = _versus(row, "keras-default"), _versus(row, "schedule-free-default")
        cosine = _versus(row, "cosine@")
        if None in (keras_default, schedule_free, cosine):
            raise DocsError(f"guard_goals: {path} lacks a baseline")
        mean, std = row["final_val"]
        digits = 4 if stats.higher_is_better(record["metric"]) else 3
        never_worse = "loses" not in (keras_default["verdict"], schedule_free["verdict"])
        lines.append(
            f"| {record['setup']['dataset']} ({record['metric']}) | {_guard_ran(record)} "
            f"| {mean:.{digits}f} ± {std:.{digits}f} "
            f"| {_effect(keras_default, record['metric'])} | {_effect(schedule_free, record['metric'])} "
            f"| {_effect(cosine, record['metric'])} | {'met' if never_worse else '**missed**'} "
            f"| {'met' if keras_default['verdict'] == 'beats' else '**missed**'} "
            f"| {'met' if cosine['verdict'] != 'loses' else '**missed**'} |"
        )
    return "\n".join(lines)


KINDS = {
    "rows": lambda dirs: report.rows_table(_table(dirs[0])[0]),
    "chosen": lambda dirs: report.chosen_table(_table(dirs[0])[0]),
    "comparisons": lambda dirs: report.comparisons_table(_table(dirs[0])[0]),
    "verdicts": lambda dirs: _verdicts(dirs[0]),
    "headline": _headline,
    "arms": _arms,
    "defaults": _defaults,
    "benchmark": lambda paths: _benchmark(paths[0]),
    "finder_quality": lambda paths: _finder_quality(paths[0]),
    "recipe": _recipe,
    "recipe_goals": _recipe_goals,
    "small_tables": _small_tables,
    "guard_goals": _guard_goals,
    "epochs": _epochs_claim,
    "goal": _goal,
    "margin": _margin,
    "across": _across,
    "no_loses": _no_loses,
    "environment": _environment,
}
# kinds whose arguments after the first N are not paths
TAKES_PATHS_ONLY = {"goal": 1, "margin": 1, "across": 2, "no_loses": 1}


def render(spec, where="."):
    """The markdown of one marker; `where` is the folder of the file it goes in (for links)."""
    kind, *paths = spec.split()
    if kind not in KINDS or not paths:
        raise DocsError(f"marker 'generated: {spec}': expected one of {', '.join(KINDS)} and a path")
    for path in paths[: TAKES_PATHS_ONLY.get(kind, len(paths))]:
        if not os.path.exists(path):
            raise DocsError(f"marker 'generated: {spec}': {path} does not exist")
    try:
        if kind in ("headline", "arms", "defaults", "environment"):
            return KINDS[kind](paths, where)
        return KINDS[kind](paths)
    except KeyError as error:
        raise DocsError(f"marker 'generated: {spec}': a file it names lacks the field {error}") from None


def regenerate(text, where="."):
    opened, closed = text.count("<!-- generated: "), len(BLOCK.findall(text))
    if opened != closed:
        raise DocsError(
            f"{opened - closed} of {opened} 'generated' markers are not on one line ending in ' -->' "
            "or have no '<!-- end generated -->' after them"
        )
    return BLOCK.sub(lambda m: f"{m.group(1)}{render(m.group('spec'), where)}\n{m.group(4)}", text)


def update(paths, check=False):
    """Rewrite the generated blocks of each file; with `check`, return the files that are out of date."""
    stale = []
    for path in paths:
        with open(path) as f:
            text = f.read()
        new = regenerate(text, os.path.dirname(path) or ".")
        if new != text:
            stale.append(path)
            if not check:
                storage.write_text(path, new)
    return stale


def main(argv=None):
    """`python benchmarks/doc_tables.py FILE... [--check]`: rewrite the generated blocks; with
    `--check`, write nothing and exit 1 when a file is out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a file is out of date"
    )
    args = parser.parse_args(argv)
    try:
        for path in args.files:
            if not os.path.isfile(path):
                raise DocsError(f"FILE: {path!r} is not a file")
        stale = update(args.files, check=args.check)
    except (DocsError, storage.CorruptRunError) as error:
        print(f"doc_tables: error: {error}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'out of date' if args.check else 'updated'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
