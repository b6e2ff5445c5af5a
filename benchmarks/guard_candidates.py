"""Would a guard with more candidates win? The most it could gain, read off stored runs.

A guard that tried lower peaks too (1cycle at the suggestion, a tenth and a thirtieth of it, and
the compiled rate held constant) would train each on 80% of the rows and keep the best on the
rest. Whatever it kept, its result on a table is one of those candidates' results. So the most it
can gain over Keras' default is that of the candidate best on validation, chosen per table with
hindsight: if no candidate beats Keras' default on a table (paired by seed, beyond two standard
errors), no guard choosing among them beats it there either.

The candidates' full-data runs are stored by the first small-table study (`small_TASK.json`:
`defaults` is 1cycle at the suggestion, `peak-div-10`, `peak-div-30`, `keras-default`), on the same
seeds, initial weights and data order.

    python benchmarks/guard_candidates.py docs/benchmarks/small_*.json --json docs/benchmarks/guard_candidates.json
"""

import argparse

import recipe_runs
from onecycle.experiments import stats, storage
from stored_output import StoredOutput

KERAS = "keras-default"
CANDIDATES = {"defaults": "peak", "peak-div-10": "peak / 10", "peak-div-30": "peak / 30", KERAS: "constant"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="the small_TASK.json files of benchmarks/recipe.py")
    parser.add_argument("--json")
    args = parser.parse_args()
    tables = []
    for path in args.files:
        record = storage.read_json(path)
        runs, metric = record["runs"], record["metric"]
        keras = recipe_runs.by_seed(runs, KERAS)
        versus = {
            name: stats.paired(recipe_runs.by_seed(runs, name), keras, metric).as_dict()
            for name in CANDIDATES
            if name != KERAS
        }
        gains = {KERAS: 0.0, **{name: v["gain"] for name, v in versus.items()}}  # constant vs itself: 0
        best = max(gains, key=gains.get)
        tables.append(
            {"name": record["setup"]["dataset"], "metric": metric, "versus_keras": versus, "best": best}
        )
    out = StoredOutput(args.json)
    head = " | ".join(
        f"1cycle to the {label} vs Keras' default" for name, label in CANDIDATES.items() if name != KERAS
    )
    out.line(f"| task | {head} | best with hindsight | can a guard among them beat Keras' default? |")
    out.line("|---|---|---|---|---|---|")
    for t in tables:
        cells = [
            f"{v['gain']:+.4g} (se {v['se']:.2g}): {v['verdict']}" for name, v in t["versus_keras"].items()
        ]
        possible = any(v["verdict"] == "beats" for v in t["versus_keras"].values())
        out.line(
            f"| {t['name']} ({t['metric']}) | {' | '.join(cells)} | {CANDIDATES[t['best']]} | "
            f"{'yes' if possible else 'no'} |"
        )
    count = sum(any(v["verdict"] == "beats" for v in t["versus_keras"].values()) for t in tables)
    out.line()
    out.line(
        f"Tables where some candidate beats Keras' default: {count} of {len(tables)}. Gains are paired "
        "differences of the final validation metric over the study's seeds, positive where the candidate is "
        "better; verdicts beyond two standard errors."
    )
    out.save(tables=tables, candidates=CANDIDATES, beatable=count)


if __name__ == "__main__":
    main()
