"""Part 1 of the image study (docs/RECIPE.md): the suggestion rule chosen by the rule fixed in advance.

Reads the stored curves of `suggestion_spread.py` (one JSON per task and optimizer), applies every
candidate rule to them (the rules of `suggestion_spread.RULES`, then those of
`suggestion_spread.POST_HOC` and any method given with --post-hoc, both labelled as chosen after
seeing the curves), and applies the protocol's rule to the first: the candidate whose largest /
smallest per-seed suggestion is at most 2 on every file; among several, the one whose per-file
medians sit closest (mean absolute log10 distance) to `minimum`'s; if none qualifies, the one with
the smallest worst spread (ties broken by the same distance).

    python benchmarks/suggestion_choice.py docs/benchmarks/spread_*.json --json docs/benchmarks/spread_choice.json
"""

import argparse
import math

import numpy as np

import onecycle
import suggestion_spread
from onecycle.experiments import storage
from stored_output import StoredOutput

LIMIT = 2.0


def _suggestions(record, rule):
    return [rule(onecycle.LRFinderResult.from_dict(c)) for c in record["curves"].values()]


def _name(setup):
    subset = f" ({setup['subset']} samples)" if setup.get("subset") else ""
    return f"{setup['dataset']}{subset}/{setup['optimizer']}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument(
        "--post-hoc", default="", help="comma-separated suggestion methods of onecycle to add"
    )
    parser.add_argument(
        "--no-choice", action="store_true", help="tasks outside the study: show the spreads, choose nothing"
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="curves recorded after every rule was written (implies --no-choice): no rule was fitted to them",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    rules = {**suggestion_spread.RULES, **suggestion_spread.POST_HOC}
    post_hoc = [m for m in args.post_hoc.split(",") if m]
    for method in post_hoc:
        rules[f"{method} (post hoc)"] = lambda r, m=method: r.suggest(m)
    records = {path: storage.read_json(path) for path in args.files}
    names = {p: _name(r["setup"]) for p, r in records.items()}
    table = {}
    for rule_name, rule in rules.items():
        per_file = {}
        for path, record in records.items():
            values = _suggestions(record, rule)
            per_file[names[path]] = {"suggestions": values, "spread": max(values) / min(values)}
        table[rule_name] = per_file
    reference = {task: float(np.median(v["suggestions"])) for task, v in table["minimum"].items()}
    summary = {}
    for rule_name, per_file in table.items():
        worst = max(v["spread"] for v in per_file.values())
        distance = np.mean(
            [abs(math.log10(np.median(v["suggestions"]) / reference[t])) for t, v in per_file.items()]
        )
        summary[rule_name] = {"worst_spread": worst, "qualifies": worst <= LIMIT, "distance": float(distance)}
    qualified = [n for n, s in summary.items() if s["qualifies"] and "(post hoc)" not in n]
    if qualified:
        chosen = min(qualified, key=lambda n: summary[n]["distance"])
        why = f"largest / smallest at most {LIMIT:g} on every task; closest to `minimum`'s level"
    else:
        candidates = [n for n in summary if "(post hoc)" not in n]
        chosen = min(candidates, key=lambda n: (round(summary[n]["worst_spread"], 9), summary[n]["distance"]))
        why = (
            f"no candidate fixed in advance stays within {LIMIT:g} everywhere: the smallest worst spread, "
            "ties broken as above, by the distance to `minimum`'s level"
        )
    out = StoredOutput(args.json)
    tasks = list(names.values())
    out.line("Largest / smallest per-seed suggestion (seeds 0-4), per task and optimizer:")
    out.line()
    out.line("| rule | " + " | ".join(tasks) + " | worst | mean log10 distance to `minimum` |")
    out.line("|---|" + "---|" * (len(tasks) + 2))
    for rule_name, per_file in table.items():
        cells = [f"{per_file[t]['spread']:.2f}" for t in tasks]
        s = summary[rule_name]
        mark = f"**{s['worst_spread']:.2f}**" if s["qualifies"] else f"{s['worst_spread']:.2f}"
        out.line(f"| `{rule_name}` | " + " | ".join(cells) + f" | {mark} | {s['distance']:.2f} |")
    out.line()
    if args.held_out:
        chosen = None
        out.line(
            "Held-out tasks: these curves were recorded after every rule above was written, the post-hoc "
            "ones included; no rule was fitted to them (bold: within 2 on every task)."
        )
    elif args.no_choice:
        chosen = None
        out.line("These tasks are outside the study: they choose nothing (bold: within 2 on every task).")
    else:
        out.line(f"Chosen by the protocol's rule: `{chosen}` ({why}).")
    if not args.held_out:
        out.line(
            "Rules marked (post hoc) were added after these curves were seen; they choose nothing here, "
            "and only the held-out tasks can speak for them."
        )
    out.save(chosen=chosen, summary=summary, spreads=table, files=args.files)


if __name__ == "__main__":
    main()
