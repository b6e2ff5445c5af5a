"""Epochs and wall time for each arm of a comparison to first reach target validation accuracies.

    onecycle compare fashion_mnist --seeds 3 --epochs 9 --out docs/runs/fashion_mnist
    python benchmarks/time_to_accuracy.py docs/runs/fashion_mnist --targets 0.92

Targets: the given accuracies and the best point of the best constant-rate arm's mean validation
curve. Per arm: over the seeds that reach the target, the mean first epoch and the mean wall time
at that epoch, and how many seeds reached it. Wall times are those of the comparison's own runs.
"""

import argparse
import json
import os

import numpy as np


def first_reach(run, target):
    for record in run["epochs"]:
        if record["val_metric"] is not None and record["val_metric"] >= target:
            return record["epoch"], record["wall_time"]
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--targets", default="0.92", help="comma-separated validation accuracies")
    args = parser.parse_args()
    with open(os.path.join(args.run_dir, "results.json")) as f:
        results = json.load(f)
    summary = results["summary"]
    targets = [(float(t), f"{100 * float(t):.1f}%") for t in args.targets.split(",")]
    if summary and summary[0].get("baseline_best_val") is not None:
        best = summary[0]["baseline_best_val"]
        targets.append((best, f"best constant ({100 * best:.2f}%, {summary[0]['baseline_arm']})"))
    arms = {}
    for run in results["runs"]:
        arms.setdefault(run["arm"], []).append(run)
    for target, name in targets:
        print(f"\nTarget: validation accuracy {name}\n")
        print("| arm | epoch budget | seeds reaching | mean first epoch | mean wall time (s) |")
        print("|---|---|---|---|---|")
        for arm, runs in arms.items():
            hits = [h for h in (first_reach(r, target) for r in runs) if h]
            epoch = f"{np.mean([h[0] for h in hits]):.1f}" if hits else "never"
            wall = f"{np.mean([h[1] for h in hits]):.0f}" if hits else "-"
            print(f"| {arm} | {runs[0]['planned_epochs']} | {len(hits)}/{len(runs)} | {epoch} | {wall} |")


if __name__ == "__main__":
    main()
