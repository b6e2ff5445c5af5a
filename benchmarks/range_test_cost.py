"""What the range test costs against the training it sizes, measured side by side in one process.

For each stored run folder given, reads its setup (dataset, subset, model, optimizer, batch size,
epochs) and, in one process, times `onecycle.find_lr` at its defaults (200 steps) on the training
data, then `fit_one_cycle` at the suggestion it gave, for the run's epochs with the run's
validation data, from the same initial weights: an explicit `max_lr`, so one training and no guard.
The cost is the first time over the second. An untimed short pass first takes the start of the
backend out of the first run's figures. On up to 10,000 samples `fit_one_cycle` at its defaults
also runs its guard (two more trainings, on 80% of the data); the last column says where, and
what share of the whole call the test then is, counting each guard training as four fifths of
the one measured (an estimate, labelled so).

    python benchmarks/range_test_cost.py docs/runs/fashion_mnist-adam-edge ... --json OUT.json
    KERAS_BACKEND=jax python benchmarks/range_test_cost.py docs/runs/boston_housing-edge ... --json OUT.json
    python benchmarks/range_test_cost.py docs/runs/digits-adam-edge --quick
"""

import argparse
import math
import os
import time

import keras

import onecycle
from onecycle import fit
from onecycle.experiments import arms, datasets, runner, storage
from stored_output import StoredOutput

GOAL = 0.05  # the range test should cost at most 5% of the training it sizes
# `fit_one_cycle`'s guard="auto" runs on arrays of at most `fit.GUARD_MAX_SAMPLES` samples; each of
# its two extra trainings runs on the part of `x` before its hold-out
GUARD_SHARE = 1 - fit.GUARD_HOLDOUT


def _setup(run_dir, quick):
    config = storage.read_json(os.path.join(run_dir, "config.json"))
    setup = {
        k: config[k] for k in ("dataset", "subset", "data_dir", "model", "optimizer", "batch_size", "epochs")
    }
    setup["num_steps"] = None
    if quick:
        setup.update(subset=200, epochs=2, num_steps=20)
    return setup


def _measure(setup, seed):
    dataset = datasets.load(setup["dataset"], setup["data_dir"], setup["subset"], 0)

    def model():
        optimizer = arms.make_optimizer(setup["optimizer"], arms.KERAS_DEFAULT_LR[setup["optimizer"]])
        return runner.seeded_model(dataset, optimizer, seed, setup["model"])

    common = dict(batch_size=setup["batch_size"], verbose=0)
    start = time.perf_counter()
    found = onecycle.find_lr(
        model(), dataset.x_train, dataset.y_train, num_steps=setup["num_steps"], seed=seed, **common
    )
    test_seconds = time.perf_counter() - start
    peak = found.suggest()
    start = time.perf_counter()
    onecycle.fit_one_cycle(
        model(),
        dataset.x_train,
        dataset.y_train,
        max_lr=peak,
        epochs=setup["epochs"],
        validation_data=(dataset.x_val, dataset.y_val),
        **common,
    )
    training_seconds = time.perf_counter() - start
    return {
        "samples": len(dataset.x_train),
        "test_steps": len(found.lrs),
        "training_steps": setup["epochs"] * math.ceil(len(dataset.x_train) / setup["batch_size"]),
        "peak": peak,
        "test_seconds": test_seconds,
        "training_seconds": training_seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="stored run folders (their config.json)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="200 samples, 20 test steps, 2 epochs")
    parser.add_argument("--json")
    args = parser.parse_args()
    out = StoredOutput(args.json)
    out.line(
        f"The range test at its defaults against one `fit_one_cycle` training at its suggestion, measured "
        f"one after the other in one process, after an untimed warm-up (seed {args.seed}; "
        f"backend {keras.backend.backend()}). "
        f"Goal: at most {GOAL:.0%}."
    )
    out.line()
    out.line(
        "| run | samples | test: steps, s | training: epochs, steps, s | test / training | goal | "
        "with the guard (estimate) |"
    )
    out.line("|---|---|---|---|---|---|---|")
    # The first training of a process also pays for starting the backend (JAX compiles its first
    # functions, TensorFlow builds its runtime): one short untimed pass, so that no run carries it.
    _measure(_setup(args.runs[0], quick=True), args.seed)
    record = {}
    for run_dir in args.runs:
        setup = _setup(run_dir, args.quick)
        m = _measure(setup, args.seed)
        share = m["test_seconds"] / m["training_seconds"]
        if m["samples"] <= fit.GUARD_MAX_SAMPLES:
            whole = m["test_seconds"] + m["training_seconds"] * (1 + 2 * GUARD_SHARE)
            guard = f"guard runs: {m['test_seconds'] / whole:.1%} of the call"
        else:
            guard = f"no guard (over {fit.GUARD_MAX_SAMPLES:,} samples)"
        record[run_dir] = {"setup": setup, **m, "share": share}
        out.line(
            f"| {os.path.basename(os.path.normpath(run_dir))} | {m['samples']} | {m['test_steps']}, "
            f"{m['test_seconds']:.1f} | {setup['epochs']}, {m['training_steps']}, {m['training_seconds']:.1f} | "
            f"{share:.1%} | {'met' if share <= GOAL else '**missed**'} | {guard} |"
        )
    out.save(seed=args.seed, quick=args.quick, runs=record)


if __name__ == "__main__":
    main()
