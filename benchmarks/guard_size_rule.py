"""The guard against a rule on the data's size, on the stored runs of the eight small tables.

`fit_one_cycle`'s guard costs three trainings. A rule that reads only the number of training rows
costs nothing: below `n` rows train Keras' default (the compiled rate, constant), from `n` rows on
plain 1cycle at the range test's suggestion. Both of its outcomes are already stored for every seed
of every table (`defaults`: plain 1cycle, `keras-default`), so every threshold is evaluated without
training: each table's product under the rule is one of those two runs, seed by seed.

For each threshold (no table below it, each table size, every table below it), paired by seed on
the final validation metric: against Keras' default, ScheduleFreeAdamW's default and the guard.
The guard's goals applied to the rule: it loses to neither default on any table, and beats Keras'
default on at least half. The rule would be preferred where it meets them, beats Keras' default on
at least as many tables as the guard and loses to the guard on none. The tables are the guard's own
study tables, all seen before: a threshold picked here is fitted to them, and says so.

    python benchmarks/guard_size_rule.py docs/benchmarks/guard2_*.json --data-dir ../shared/data \
        --json docs/benchmarks/guard_size_rule.json
"""

import argparse
import math

import recipe_runs
from onecycle.experiments import datasets, stats, storage
from stored_output import StoredOutput

KERAS, SF, GUARD, ONECYCLE = "keras-default", "schedule-free-default", "guard", "defaults"


def _table(path, data_dir):
    record = storage.read_json(path)
    name = record["setup"]["dataset"]
    runs = record["runs"]
    seeds = recipe_runs.seeds(runs, GUARD)
    rows = len(datasets.load(name, data_dir).x_train)
    arms = {arm: recipe_runs.by_seed(runs, arm, seeds) for arm in (KERAS, SF, GUARD, ONECYCLE)}
    return {"name": name, "rows": rows, "metric": record["metric"], "seeds": seeds, "arms": arms}


def _rule(tables, threshold):
    """Per table, the rule's runs and its paired comparisons."""
    out = {}
    for t in tables:
        chosen = KERAS if t["rows"] < threshold else ONECYCLE
        mine = t["arms"][chosen]
        versus = {arm: stats.paired(mine, t["arms"][arm], t["metric"]) for arm in (KERAS, SF, GUARD)}
        out[t["name"]] = {"trains": chosen, **{arm: p.as_dict() for arm, p in versus.items()}}
    return out


def _count(per_table, arm, verdict):
    return sum(1 for v in per_table.values() if v[arm]["verdict"] == verdict)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="the guard2_TASK.json files of benchmarks/recipe.py")
    parser.add_argument("--data-dir", help="folder with local copies of the datasets (for their sizes)")
    parser.add_argument("--json")
    args = parser.parse_args()
    tables = sorted((_table(p, args.data_dir) for p in args.files), key=lambda t: t["rows"])
    guard = {
        t["name"]: {
            arm: stats.paired(t["arms"][GUARD], t["arms"][arm], t["metric"]).verdict for arm in (KERAS, SF)
        }
        for t in tables
    }
    guard_beats = sum(1 for v in guard.values() if v[KERAS] == "beats")
    guard_loses = sum(1 for v in guard.values() for verdict in v.values() if verdict == "loses")
    thresholds = [0, *sorted({t["rows"] for t in tables[1:]}), math.inf]
    rules = []
    for threshold in thresholds:
        per_table = _rule(tables, threshold)
        row = {
            "threshold": threshold if math.isfinite(threshold) else None,
            "keras_default_on": [t["name"] for t in tables if t["rows"] < threshold],
            "beats_keras": _count(per_table, KERAS, "beats"),
            "loses_to_a_default": [
                name for name, v in per_table.items() if "loses" in (v[KERAS]["verdict"], v[SF]["verdict"])
            ],
            "beats_guard": _count(per_table, GUARD, "beats"),
            "loses_to_guard": _count(per_table, GUARD, "loses"),
            "tables": per_table,
        }
        row["meets_goals"] = not row["loses_to_a_default"] and 2 * row["beats_keras"] >= len(tables)
        row["preferred_to_guard"] = (
            not row["loses_to_a_default"] and row["beats_keras"] >= guard_beats and row["loses_to_guard"] == 0
        )
        rules.append(row)
    out = StoredOutput(args.json)
    out.line(
        "Tables by training rows: "
        + ", ".join(f"{t['name']} {t['rows']}" for t in tables)
        + f". The guard, on the same runs: beats Keras' default on {guard_beats} of {len(tables)}, "
        f"loses to a default on {guard_loses}."
    )
    out.line()
    out.line(
        "| rule: Keras' default below | Keras' default on | beats Keras' default | loses to a default on | "
        "beats the guard | loses to the guard | the guard's goals | preferred to the guard |"
    )
    out.line("|---|---|---|---|---|---|---|---|")
    for row in rules:
        below = (
            "no table (always 1cycle)"
            if row["threshold"] == 0
            else (
                "every table (always Keras' default)"
                if row["threshold"] is None
                else f"{row['threshold']} rows"
            )
        )
        out.line(
            f"| {below} | {', '.join(row['keras_default_on']) or '-'} | {row['beats_keras']} of {len(tables)} | "
            f"{', '.join(row['loses_to_a_default']) or 'none'} | {row['beats_guard']} | {row['loses_to_guard']} | "
            f"{'met' if row['meets_goals'] else 'missed'} | {'yes' if row['preferred_to_guard'] else 'no'} |"
        )
    out.line()
    out.line(
        "Paired by seed on the final validation metric, verdicts beyond two standard errors; each rule's "
        "runs are the stored `defaults` (plain 1cycle) or `keras-default` runs of the same seeds. The "
        "thresholds are read off these eight tables (all seen before): no held-out evidence."
    )
    out.save(
        tables=[{k: t[k] for k in ("name", "rows", "metric", "seeds")} for t in tables],
        guard=guard,
        rules=rules,
    )


if __name__ == "__main__":
    main()
