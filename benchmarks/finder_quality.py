"""Does the range test pick well, and what does it cost?

Ground truth: a grid of 1cycle peak rates (log-spaced over 3 decades around the default suggestion),
each trained for the full budget over several seeds. For each suggestion method: the suggested rate,
the best validation metric 1cycle reaches with it, the grid's best, and the gap; and the range
test's wall time as a fraction of one training run, measured in the same process.

    python benchmarks/finder_quality.py boston_housing --optimizer adam --epochs 200 --seeds 3
    python benchmarks/finder_quality.py fashion_mnist --epochs 9 --seeds 3
    python benchmarks/finder_quality.py digits --quick
"""

import argparse
import json
import tempfile
import time

import numpy as np

from onecycle import DEFAULT_SUGGESTION as DEFAULT_METHOD
from onecycle import SUGGESTION_METHODS as METHODS
from onecycle.experiments import config as config_lib
from onecycle.experiments import datasets, planning, runner


def _train(dataset, cfg, max_lr, seeds):
    bests, seconds = [], []
    higher = dataset.metric == "accuracy"
    for seed in range(seeds):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as run_dir:
            record = runner.train_one(dataset, cfg, planning.Training("onecycle", max_lr, seed), 0, run_dir)
        seconds.append(time.perf_counter() - start)
        values = [e["val_metric"] for e in record["epochs"] if e["val_metric"] is not None]
        bests.append((max if higher else min)(values) if values else np.nan)
    return float(np.mean(bests)), float(np.mean(seconds))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(datasets.REGISTRY))
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--grid", type=int, default=7, help="number of peak rates in the grid")
    parser.add_argument("--data-dir")
    parser.add_argument("--subset", type=int)
    parser.add_argument("--quick", action="store_true", help="tiny budget: checks that it runs")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.seeds, args.grid, args.subset = 2, 1, 3, args.subset or 200
    cfg = config_lib.CompareConfig.from_options(
        dataset=args.dataset,
        optimizer=args.optimizer,
        epochs=args.epochs,
        seeds=args.seeds,
        subset=args.subset,
        data_dir=args.data_dir,
        verbose=0,
        num_steps=20 if args.quick else 200,
    ).validate()
    dataset = cfg.data.load(0)

    start = time.perf_counter()
    finder = runner.range_test(cfg, dataset, verbose=0)
    finder_seconds = time.perf_counter() - start
    suggestions = {m: finder.suggest(m) for m in METHODS}
    grid = suggestions[DEFAULT_METHOD] * np.logspace(-1.5, 1.5, args.grid)

    results = {"grid": [], "methods": {}}
    for lr in grid:
        metric, seconds = _train(dataset, cfg, float(lr), cfg.arms.seeds)
        results["grid"].append({"max_lr": float(lr), "best_val": metric, "seconds": seconds})
        print(f"grid max_lr={lr:.4g}: best val {dataset.metric} {metric:.4f}", flush=True)
    for method, lr in suggestions.items():
        same = [r for r in results["grid"] if np.isclose(r["max_lr"], lr, rtol=1e-9)]
        if same:  # the default suggestion is the grid's centre: its runs are already done
            results["methods"][method] = {**same[0], "max_lr": lr}
            continue
        metric, seconds = _train(dataset, cfg, lr, cfg.arms.seeds)
        results["methods"][method] = {"max_lr": lr, "best_val": metric, "seconds": seconds}

    higher = dataset.metric == "accuracy"
    grid_best = (max if higher else min)(results["grid"], key=lambda r: r["best_val"])
    run_seconds = np.mean([r["seconds"] for r in results["grid"]])
    print(
        f"\n{dataset.name}, {cfg.model.optimizer}, {cfg.arms.epochs} epochs, {cfg.arms.seeds} seeds; grid best: max_lr "
        f"{grid_best['max_lr']:.4g}, best val {dataset.metric} {grid_best['best_val']:.4f}"
    )
    print(
        f"range test: {len(finder.lrs)} steps, {finder_seconds:.1f} s = "
        f"{finder_seconds / run_seconds:.1%} of one training run "
        f"({run_seconds:.1f} s)\n"
    )
    print(f"| method | suggested max_lr | best val {dataset.metric} | grid best | gap |")
    print("|---|---|---|---|---|")
    for method, r in results["methods"].items():
        gap = (
            (grid_best["best_val"] - r["best_val"]) * 100
            if higher
            else (r["best_val"] / grid_best["best_val"] - 1) * 100
        )
        unit = " points" if higher else " %"
        name = f"{method} (default)" if method == DEFAULT_METHOD else method
        print(
            f"| {name} | {r['max_lr']:.4g} | {r['best_val']:.4f} | {grid_best['best_val']:.4f} | {gap:+.2f}{unit} |"
        )
    print(json.dumps({"finder_seconds": finder_seconds, "run_seconds": run_seconds, **results}))


if __name__ == "__main__":
    main()
