"""Does the weight-decay range test pick well, and what does it cost?

    python benchmarks/wd_quality.py digits --seeds 3 --json docs/benchmarks/wd_quality_digits.json
    python benchmarks/wd_quality.py boston_housing --data-dir ../shared/data --optimizer adam --json ...
    python benchmarks/wd_quality.py digits --quick

`find_wd` (one range test per weight decay, judged on validation loss) picks a (rate, weight decay)
pair. Ground truth: `fit_one_cycle` at every weight decay of the same list, each at the rate its own
range test suggested, trained for the full budget over several seeds; the figure is the best
validation metric of a run, averaged over the seeds. The range tests' wall time is measured in the
same process, as a fraction of one training run.
"""

import argparse
import math
import time

import numpy as np

import onecycle
from onecycle.experiments import arms, datasets, runner, stats
from stored_output import StoredOutput

WEIGHT_DECAYS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)


def _compiled(dataset, optimizer, seed=0):
    return runner.seeded_model(
        dataset, arms.make_optimizer(optimizer, arms.KERAS_DEFAULT_LR[optimizer]), seed
    )


def _train(dataset, optimizer, lr, wd, seed, epochs, batch_size):
    model = _compiled(dataset, optimizer, seed)
    model.optimizer.weight_decay = wd
    start = time.perf_counter()
    history = onecycle.fit_one_cycle(
        model,
        dataset.x_train,
        dataset.y_train,
        epochs=epochs,
        batch_size=batch_size,
        max_lr=lr,
        verbose=0,
        validation_data=(dataset.x_val, dataset.y_val),
    )
    values = history.history[f"val_{dataset.metric}"]
    best = (max if stats.higher_is_better(dataset.metric) else min)(v for v in values if math.isfinite(v))
    return best, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(datasets.REGISTRY))
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    epochs = args.epochs or datasets.REGISTRY[args.dataset].epochs
    steps, subset = 200, None
    if args.quick:
        epochs, args.seeds, steps, subset = 2, 1, 20, 200
    dataset = datasets.load(args.dataset, args.data_dir, subset, 0)
    higher = stats.higher_is_better(dataset.metric)

    start = time.perf_counter()
    found = onecycle.find_wd(
        _compiled(dataset, args.optimizer),
        dataset.x_train,
        dataset.y_train,
        weight_decays=WEIGHT_DECAYS,
        batch_size=args.batch_size,
        num_steps=steps,
        validation_data=(dataset.x_val, dataset.y_val),
        verbose=0,
    )
    finder_seconds = time.perf_counter() - start
    pick_lr, pick_wd = found.suggest()

    grid, seconds = [], []
    for wd, curve in zip(found.weight_decays, found.results):
        lr = curve.suggest()
        bests = []
        for seed in range(args.seeds):
            best, took = _train(dataset, args.optimizer, lr, wd, seed, epochs, args.batch_size)
            bests.append(best)
            seconds.append(took)
        mean, std = stats.mean_std(bests)
        grid.append(
            {"weight_decay": wd, "lr": lr, "best_val_mean": mean, "best_val_std": std, "per_seed": bests}
        )
    run_seconds = float(np.mean(seconds))
    StoredOutput(args.json).save_figures(
        kind="wd_quality",
        setup={
            "dataset": dataset.name,
            "optimizer": args.optimizer,
            "epochs": epochs,
            "batch_size": args.batch_size,
            "seeds": args.seeds,
            "metric": dataset.metric,
            "higher": higher,
        },
        grid=grid,
        pick={"lr": pick_lr, "weight_decay": pick_wd},
        finder_seconds=finder_seconds,
        run_seconds=run_seconds,
    )


if __name__ == "__main__":
    main()
