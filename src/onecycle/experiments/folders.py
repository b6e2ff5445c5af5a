"""Reading a run folder and the baseline folders it names (`--baselines`): their runs join the
comparison, so that the product is always compared with the best baseline that was run, wherever it
was run."""

from __future__ import annotations

import os

from onecycle.experiments import storage, summary


def load_folder(path: str) -> tuple[dict, dict]:
    """(config, results) of a run folder, read and checked."""
    config = storage.read_json(os.path.join(path, "config.json"))
    results = storage.read_json(os.path.join(path, "results.json"))
    if not isinstance(results, dict) or "runs" not in results:
        raise storage.CorruptRunError(f"{os.path.join(path, 'results.json')} holds no runs")
    return config, results


def all_runs(path: str, config: dict, results: dict) -> list[dict]:
    """The folder's own runs and those of its baseline folders, normalized. A group of runs (arm,
    rate, budget) that the folder holds comes from the folder alone: a baseline folder's runs of it
    (another product under the same name, say) never fill in the seeds the folder has not run yet."""
    runs = summary.normalize_runs(results, config["optimizer"])
    own = {summary.group_key(run) for run in runs}
    for relative in results.get("baselines", []):
        other = os.path.normpath(os.path.join(path, relative))
        other_config, other_results = load_folder(other)
        if other_results["dataset"]["name"] != results["dataset"]["name"]:
            raise storage.CorruptRunError(
                f"baseline {other} holds {other_results['dataset']['name']}, not {results['dataset']['name']}"
            )
        theirs = summary.normalize_runs(other_results, other_config["optimizer"], folder=relative)
        runs += [run for run in theirs if summary.group_key(run) not in own]
    return _first_of_each(runs)


def _first_of_each(runs):
    """One run per (arm, rate, budget, seed): the first met (a grid's seed 0 is not counted again when
    the chosen rate's folder runs seeds 0 to N)."""
    seen, kept = set(), []
    for run in runs:
        key = (*summary.group_key(run), run["seed"])
        if key not in seen:
            seen.add(key)
            kept.append(run)
    return kept
