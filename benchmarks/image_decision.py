"""Part 2 of the image study (docs/RECIPE.md): the decision rule fixed in advance, applied to the
stored runs of `recipe.py` (one JSON per studied task, baselines imported from the run folders).

For every variant on every task, paired by seed on the final validation metric: its verdict against
every baseline and every other variant. The rule: the new default is the variant that loses to no
baseline and no other variant on any task and beats ScheduleFreeAdamW's defaults on the most tasks,
ties broken by the mean paired gain over ScheduleFreeAdamW's defaults (in standard deviations of
the differences' scale: the gain divided by the task's spread, so that accuracy and RMSE add up);
if every variant loses somewhere, the one that loses least often, and the goal is reported missed.
A task where a variant has not run leaves that variant unranked there, and the table says so.

    python benchmarks/image_decision.py docs/benchmarks/image_fashion_mnist.json docs/benchmarks/image_digits.json \
        docs/benchmarks/image_cifar10.json --json docs/benchmarks/image_decision.json
"""

import argparse
import os

import numpy as np

import recipe_runs
from onecycle.experiments import datasets, stats, storage
from stored_output import StoredOutput

SF_DEFAULT = "schedule-free-default"


def _final(runs, key, seeds):
    return recipe_runs.by_seed(runs, key, seeds) if recipe_runs.complete(runs, key, seeds) else None


def _task(record):
    runs = record["runs"]
    task = datasets.REGISTRY[record["setup"]["dataset"]].task
    metric = record.get("metric") or ("accuracy" if task == "classification" else "rmse")
    seeds = recipe_runs.seeds(runs)
    names = recipe_runs.arms(runs)
    baselines = [n for n in names if "from" in runs.get(f"{n}/{seeds[0]}", {})]
    variants = [n for n in names if n not in baselines]
    out = {}
    for variant in variants:
        mine = _final(runs, variant, seeds)
        if mine is None:
            continue
        versus = {}
        for other in baselines + variants:
            theirs = _final(runs, other, seeds) if other != variant else None
            if theirs is not None:
                versus[other] = stats.paired(mine, theirs, metric).as_dict()
        out[variant] = versus
    return {"metric": metric, "seeds": seeds, "baselines": baselines, "variants": out}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--json")
    parser.add_argument(
        "--rank-only",
        action="store_true",
        help="rank without deciding (the tasks that pick the variants a costlier task runs)",
    )
    args = parser.parse_args()
    tasks, unfinished = {}, []
    for path in args.files:
        partial = f"{path}.partial.json"
        source = path if os.path.exists(path) else partial
        if source != path:
            unfinished.append(path)
        if not os.path.exists(source):
            continue
        record = storage.read_json(source)
        tasks[record["setup"]["dataset"]] = {**_task(record), "file": source}
    variants = sorted({v for t in tasks.values() for v in t["variants"]})
    summary = {}
    for variant in variants:
        loses, beats_sf, gains, missing = [], 0, [], []
        for name, task in tasks.items():
            versus = task["variants"].get(variant)
            if versus is None:
                missing.append(name)
                continue
            loses += [f"{other} on {name}" for other, p in versus.items() if p["verdict"] == "loses"]
            sf = versus.get(SF_DEFAULT)
            if sf is not None:
                beats_sf += sf["verdict"] == "beats"
                spread = sf["std"] if sf["std"] and sf["std"] > 0 else 1.0
                gains.append(sf["gain"] / spread)
        summary[variant] = {
            "loses": loses,
            "beats_sf_default": beats_sf,
            "mean_standardized_gain_over_sf_default": float(np.mean(gains)) if gains else None,
            "not_run_on": missing,
        }
    ranked = sorted(
        (v for v in variants if not summary[v]["not_run_on"]),
        key=lambda v: (
            len(summary[v]["loses"]),
            -summary[v]["beats_sf_default"],
            -(summary[v]["mean_standardized_gain_over_sf_default"] or 0.0),
        ),
    )
    out = StoredOutput(args.json)
    described = [f"{name} ({task['metric']}, seeds {task['seeds']})" for name, task in tasks.items()]
    out.line(f"Tasks: {', '.join(described)}.")
    out.line()
    out.line(
        "| variant | loses to | beats ScheduleFreeAdamW's defaults on | mean standardized gain over it | not run on |"
    )
    out.line("|---|---|---|---|---|")
    for variant in ranked + [v for v in variants if v not in ranked]:
        s = summary[variant]
        gain = s["mean_standardized_gain_over_sf_default"]
        out.line(
            f"| `{variant}` | {', '.join(s['loses']) or 'nothing'} | {s['beats_sf_default']} of "
            f"{len(tasks) - len(s['not_run_on'])} | {'n/a' if gain is None else f'{gain:+.2f}'} | "
            f"{', '.join(s['not_run_on']) or '-'} |"
        )
    out.line()
    if args.rank_only:
        chosen = None
        line = (
            f"Ranking only, no decision: {', '.join(f'`{v}`' for v in ranked[:2])} first "
            "(the two variants the costlier task runs)."
        )
    elif unfinished:
        chosen = None
        line = (
            f"Unfinished: {', '.join(unfinished)} (no decision until every task has run; "
            "a partial file has no baselines yet)."
        )
    elif not ranked:
        chosen, line = None, "No variant has run on every task: no decision."
    else:
        chosen = ranked[0]
        clean = not summary[chosen]["loses"]
        line = (
            f"Chosen by the rule: `{chosen}`"
            + (
                ""
                if clean
                else f" (it loses {len(summary[chosen]['loses'])} time(s): the goal of no loss is missed)"
            )
            + "."
        )
    out.line(line)
    out.save(chosen=chosen, ranked=ranked, summary=summary, tasks=tasks)


if __name__ == "__main__":
    main()
