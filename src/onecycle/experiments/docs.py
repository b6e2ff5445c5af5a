"""Generated blocks in markdown files: every table and verdict in the docs comes from stored files.

A block is written between two marker lines, and `onecycle docs FILE...` rewrites what lies between
them from the files the opening marker names (paths relative to the repository root, where the
command runs):

    <!-- generated: rows docs/runs/digits -->
    ...
    <!-- end generated -->

Kinds: `rows RUN_DIR` (every arm), `chosen RUN_DIR` (the baselines chosen on validation data),
`comparisons RUN_DIR` (paired differences), `verdicts RUN_DIR` (one sentence per paired comparison
on the test split), `headline RUN_DIR...` (one line per run folder, for the README),
`benchmark JSON_FILE` (the markdown table a benchmark stored in its JSON output).
`--check` writes nothing and fails when a file is out of date.
"""

import os
import re

from onecycle.experiments import report, storage, summary

BLOCK = re.compile(r"(<!-- generated: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


class DocsError(ValueError):
    """A marker that names an unknown kind or a missing file."""


def _table(run_dir):
    """The summary of a run folder (its baseline folders included), computed from its stored runs."""
    config, results = report.load_folder(run_dir)
    runs = report.all_runs(run_dir, config, results)
    return summary.summarize(runs, results["dataset"]["metric"]), results


def _verdicts(run_dir):
    table, results = _table(run_dir)
    metric = table["rows"][0]["metric"]
    unit = " points" if metric == "accuracy" else ""
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
            f"{report.fmt(c['mean'], metric, signed=True)}{unit} of test {metric}, paired over {len(c['seeds'])} seeds"
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


def _headline(run_dirs):
    lines = [
        "| run | test: onecycle | test: best constant (chosen on val) | test: best cosine (chosen on val) "
        "| paired verdicts (test) |",
        "|---|---|---|---|---|",
    ]
    for run_dir in run_dirs:
        table, results = _table(run_dir)
        rows = {r["arm"]: r for r in table["rows"]}
        metric = table["rows"][0]["metric"]
        product = next((r for r in table["rows"] if r["base_arm"] == "onecycle"), None)
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
            f"{product['seeds']} seeds)"
            if product
            else "not run"
        )
        lines.append(
            f"| [{results['dataset']['name']}]({os.path.relpath(run_dir, 'docs')}/report.md) "
            f"({metric}) | {first} | {cells[0]} | {cells[1]} | {verdicts or 'n/a'} |"
        )
    return "\n".join(lines)


def _benchmark(path):
    record = storage.read_json(path)
    if "table" not in record:
        raise DocsError(f"{path} holds no 'table'")
    return record["table"]


KINDS = {
    "rows": lambda dirs: report.rows_table(_table(dirs[0])[0]),
    "chosen": lambda dirs: report.chosen_table(_table(dirs[0])[0]),
    "comparisons": lambda dirs: report.comparisons_table(_table(dirs[0])[0]),
    "verdicts": lambda dirs: _verdicts(dirs[0]),
    "headline": _headline,
    "benchmark": lambda paths: _benchmark(paths[0]),
}


def render(spec):
    kind, *paths = spec.split()
    if kind not in KINDS or not paths:
        raise DocsError(f"marker 'generated: {spec}': expected one of {', '.join(KINDS)} and a path")
    for path in paths:
        if not os.path.exists(path):
            raise DocsError(f"marker 'generated: {spec}': {path} does not exist")
    return KINDS[kind](paths)


def regenerate(text):
    return BLOCK.sub(lambda m: f"{m.group(1)}{render(m.group('spec'))}\n{m.group(4)}", text)


def update(paths, check=False):
    """Rewrite the generated blocks of each file; with `check`, return the files that are out of date."""
    stale = []
    for path in paths:
        with open(path) as f:
            text = f.read()
        new = regenerate(text)
        if new != text:
            stale.append(path)
            if not check:
                storage.write_text(path, new)
    return stale
