"""How much does the range test's suggestion move from seed to seed, and what does the test cost?

Records the range-test curve of several seeds (initial weights and batch order both follow the seed)
on a task, then applies every candidate suggestion rule to the stored curves, so that the rules are
compared on the very same curves. The candidates were fixed before any curve was recorded
(docs/RECIPE.md, "The image study"):

- `minimum`, `steepest`, `valley`: the rules of `onecycle.suggestions` on the bias-corrected
  exponential moving average (beta 0.98) of the losses, as `find_lr` records it.
- `centered-minimum`: a tenth of the rate at the lowest point of a centered running median of the raw
  losses (no lag; `onecycle.suggestions.centered_median`, half-width `HALF_WIDTH` points).
- `edge-10`, `edge-30`: the "edge" of the curve divided by 10 or 30. The edge is the first rate past
  the lowest point of the centered running median at which that median has climbed back half-way
  from its lowest value to its starting value (the median of the first 10% of the losses); the last
  rate of the test when it never does (`onecycle.suggestions.edge`, which the study adopted; the
  rules were first written here, and moved there unchanged: the same figures on all 70 stored curves).

    python benchmarks/suggestion_spread.py fashion_mnist --seeds 5 --json docs/benchmarks/spread_fashion_mnist.json
    python benchmarks/suggestion_spread.py cifar10 --model resnet9 --batch-size 128 --data-dir ../shared/data --seeds 5 ...
    python benchmarks/suggestion_spread.py digits --quick

The held-out check of the spread (docs/RECIPE.md, "The spread on held-out tasks") runs it on tasks
whose curves no rule was fitted to, e.g.
    python benchmarks/suggestion_spread.py cifar10 --subset 5000 --model resnet9 --batch-size 128 --optimizer adam ...
"""

import argparse
import math
import os
import time

import numpy as np

import onecycle
from onecycle import suggestions
from onecycle.experiments import datasets, runner, storage
from stored_output import StoredOutput

OPTIMIZERS = {
    "sgd": lambda: onecycle.optimizers.SGD(learning_rate=0.01, momentum=0.9),
    "adam": lambda: onecycle.optimizers.Adam(learning_rate=0.001),
    "adamw": lambda: onecycle.optimizers.AdamW(learning_rate=0.001, weight_decay=0.01),
}


def centered_minimum(lrs, losses):
    curve = suggestions.centered_median(losses)
    return float(lrs[int(np.nanargmin(curve))]) / 10.0


RULES = {
    "minimum": lambda r: r.suggest("minimum"),
    "steepest": lambda r: r.suggest("steepest"),
    "valley": lambda r: r.suggest("valley"),
    "centered-minimum": lambda r: centered_minimum(r.lrs, r.losses),
    "edge-10": lambda r: suggestions.edge(r.lrs, r.losses).lr,  # the edge / 10
    "edge-30": lambda r: float(r.lrs[suggestions.edge(r.lrs, r.losses).index]) / 30.0,
}


# Added after the curves of seeds 0-4 were seen (docs/RECIPE.md, "After the study: the spread
# again"): the edge at a lower climb, or at a climb capped relative to the lowest value. They choose
# nothing; `suggestion_choice.py` shows them, labelled.
POST_HOC = {
    "edge-climb-third (post hoc)": lambda r: suggestions.edge(r.lrs, r.losses, climb=1 / 3).lr,
    "edge-climb-quarter (post hoc)": lambda r: suggestions.edge(r.lrs, r.losses, climb=0.25).lr,
    "edge-cap3 (post hoc)": lambda r: suggestions.edge(r.lrs, r.losses, cap=3.0).lr,
}


def _curve(dataset, args, seed):
    model = runner.seeded_model(dataset, OPTIMIZERS[args.optimizer](), seed, args.model)
    start = time.perf_counter()
    result = onecycle.find_lr(
        model,
        dataset.x_train,
        dataset.y_train,
        batch_size=args.batch_size,
        num_steps=args.steps,
        seed=seed,
        verbose=0,
    )
    return {**result.to_dict(), "seconds": time.perf_counter() - start}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(datasets.REGISTRY))
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd")
    parser.add_argument("--model", help="a harness model name (default: the dataset's)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data-dir")
    parser.add_argument(
        "--subset", type=int, help="train on the first N training samples (as `onecycle compare --subset`)"
    )
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 steps, 200 samples")
    parser.add_argument("--json", help="store the curves and the table; curves already stored are kept")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.steps, args.subset = 2, 20, 200
    dataset = datasets.load(args.dataset, args.data_dir, args.subset, 0)
    setup = {k: getattr(args, k) for k in ("dataset", "optimizer", "model", "batch_size", "steps", "quick")}
    if args.subset is not None and not args.quick:
        setup["subset"] = args.subset
    partial = args.json and f"{args.json}.partial.json"
    curves = {}
    if partial and os.path.exists(partial):
        stored = storage.read_json(partial)
        if stored["setup"] != setup:
            raise SystemExit(f"{partial} holds curves of another setup; delete it or change --json")
        curves = stored["curves"]
    for seed in range(args.seeds):
        if str(seed) not in curves:
            curves[str(seed)] = _curve(dataset, args, seed)
            if partial:
                storage.write_json(partial, {"setup": setup, "curves": curves})
    out = StoredOutput(args.json)
    steps_per_epoch = math.ceil(len(dataset.x_train) / args.batch_size)
    out.line(
        f"{dataset.name}, {args.optimizer}, model {args.model or 'default'}, batch {args.batch_size}, "
        f"{args.steps} steps ({args.steps / steps_per_epoch:.2f} epochs), seeds 0-{args.seeds - 1}"
    )
    out.line()
    out.line("| rule | per-seed suggestions | largest / smallest |")
    out.line("|---|---|---|")
    rules = {}
    for name, rule in RULES.items():
        values = [rule(onecycle.LRFinderResult.from_dict(curves[str(s)])) for s in range(args.seeds)]
        spread = max(values) / min(values)
        rules[name] = {"suggestions": values, "spread": spread}
        out.line(f"| `{name}` | {', '.join(f'{v:.3g}' for v in values)} | {spread:.2f} |")
    seconds = [curves[str(s)]["seconds"] for s in range(args.seeds)]
    out.line()
    out.line(f"Range test: {np.mean(seconds):.1f} s on average over {args.seeds} seeds.")
    out.save(setup=setup, steps_per_epoch=steps_per_epoch, rules=rules, curves=curves)
    if partial and os.path.exists(partial):
        os.remove(partial)


if __name__ == "__main__":
    main()
