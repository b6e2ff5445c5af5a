"""Epochs and wall time for each arm to first reach target validation accuracies.

    onecycle compare fashion_mnist --seeds 3 --epochs 9 --out docs/runs/fashion_mnist
    python benchmarks/time_to_accuracy.py docs/runs/fashion_mnist --peers docs/runs/fashion_mnist_peers.json
    python benchmarks/time_to_accuracy.py --quick

Arms: those of the comparison in RUN_DIR (its own runs and wall times), and two more trained here on
the same data, epochs, batch size and seeds, stored in `--peers` (trained only when that file is
missing): "pytorch-onecyclelr", the same CNN in plain PyTorch with `OneCycleLR` at its defaults and
the comparison's peak rate (benchmarks/torch_peer.py); "fit_one_cycle", `onecycle.fit_one_cycle`
with its defaults (its own range test; its wall time counts the range test); and
"fit_one_cycle-torch-curve", `fit_one_cycle` given the peer's peak rate and `OneCycleLR`'s curve
(cosine, 30% warm-up, two phases), which separates the curve from the framework.

Targets: the given accuracies and the peak of the best constant-rate arm's mean validation curve
(over the comparison's constant arms and those of `--also` folders). Per arm: how many seeds reach
the target, their mean first epoch and wall time at that epoch, and the first epoch at which the
arm's mean curve reaches it.
"""

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

import keras
import numpy as np

import onecycle
from onecycle.experiments import datasets, runner, stats, storage
from stored_output import StoredOutput


class EpochClock(keras.callbacks.Callback):
    """Per-epoch records with the wall time since `start`."""

    def __init__(self, start):
        super().__init__()
        self.start, self.records = start, []

    def on_epoch_end(self, epoch, logs=None):
        self.records.append(
            {
                "epoch": epoch + 1,
                "loss": logs.get("loss"),
                "val_metric": logs.get("val_accuracy"),
                "learning_rate": logs.get("learning_rate"),
                "wall_time": time.perf_counter() - self.start,
            }
        )


def torch_curve(max_lr):
    """`fit_one_cycle` arguments for the curve of PyTorch's `OneCycleLR` at its defaults: cosine, 30%
    warm-up from max_lr/25, then straight down to max_lr/25/1e4."""
    start = max_lr / 25
    return {
        "max_lr": max_lr,
        "schedule_kwargs": {
            "start_lr": start,
            "final_lr": start / 1e4,
            "warmup_fraction": 0.3,
            "annihilation_fraction": 0.7,
            "shape": "cosine",
        },
    }


def _fit_one_cycle_run(dataset, *, epochs, batch_size, seed, **fit_kwargs):
    model = runner.seeded_model(dataset, onecycle.optimizers.SGD(momentum=0.9), seed)
    start = time.perf_counter()
    clock = EpochClock(start)
    history = onecycle.fit_one_cycle(
        model,
        dataset.x_train,
        dataset.y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=(dataset.x_val, dataset.y_val),
        callbacks=[clock],
        verbose=0,
        find_lr_kwargs={"verbose": 0},
        **fit_kwargs,
    )
    test = model.evaluate(dataset.x_test, dataset.y_test, batch_size=256, verbose=0, return_dict=True)[
        "accuracy"
    ]
    return clock.records, test, history.schedule.max_lr


PEER_ARMS = ("fit_one_cycle", "pytorch-onecyclelr", "fit_one_cycle-torch-curve")


def train_peers(run_dir, seeds, done=()):
    """Train the extra arms on the comparison's data and budget, skipping the (arm, seed) pairs in
    `done`; yields their runs one at a time."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_peer

    config = storage.read_json(os.path.join(run_dir, "config.json"))
    results = storage.read_json(os.path.join(run_dir, "results.json"))
    peaks = [r["peak_lr"] for r in results["runs"] if r.get("peak_lr")]  # fit_one_cycle's own range tests
    max_lr = results["max_lr"] or float(np.mean(peaks))
    dataset = datasets.load(config["dataset"], config.get("data_dir"), config.get("subset"), 0)
    budget = {"epochs": config["epochs"], "batch_size": config["batch_size"]}
    for seed in range(seeds):
        for arm in PEER_ARMS:
            if (arm, seed) in done:
                continue
            print(f"seed {seed}: {arm}", file=sys.stderr, flush=True)
            if arm == "pytorch-onecyclelr":
                epochs, test = torch_peer.train(dataset, max_lr=max_lr, seed=seed, **budget)
                peak = max_lr
            else:
                extra = torch_curve(max_lr) if arm == "fit_one_cycle-torch-curve" else {}
                epochs, test, peak = _fit_one_cycle_run(dataset, seed=seed, **budget, **extra)
            yield {
                "arm": arm,
                "seed": seed,
                "planned_epochs": config["epochs"],
                "max_lr": peak,
                "epochs": epochs,
                "test_metric": test,
            }


def first_reach(run, target):
    for record in run["epochs"]:
        if record["val_metric"] is not None and record["val_metric"] >= target:
            return record["epoch"], record["wall_time"]
    return None


def _load_peers(path, run_dir, seeds):
    """The runs in `path`, after training the missing ones (the file is rewritten, atomically, after each)."""
    runs = storage.read_json(path) if os.path.exists(path) else []
    for run in train_peers(run_dir, seeds, done={(r["arm"], r["seed"]) for r in runs}):
        runs.append(run)
        storage.write_json(path, runs)
    return runs


def _mean_curve(group):
    length = min(len(run["epochs"]) for run in group)
    return np.mean([[e["val_metric"] or 0.0 for e in run["epochs"][:length]] for run in group], axis=0)


def best_constant(arms):
    """The constant-rate arm whose mean validation curve peaks highest: (arm, peak, epoch of the peak)."""
    peaks = [
        (arm, float(c.max()), int(c.argmax()) + 1)
        for arm, c in ((arm, _mean_curve(group)) for arm, group in arms.items() if arm.startswith("constant"))
    ]
    return max(peaks, key=lambda p: p[1]) if peaks else None


def print_tables(runs, targets):
    arms = {}
    for run in runs:
        arms.setdefault(run["arm"], []).append(run)
    baseline = best_constant(arms)
    if baseline:
        targets = targets + [
            (
                baseline[1],
                f"best constant ({100 * baseline[1]:.2f}%, {baseline[0]}, its mean curve's peak at epoch {baseline[2]})",
            )
        ]
    print("| arm | epoch budget | seeds | best val accuracy (mean of seeds) | test accuracy |")
    print("|---|---|---|---|---|")
    for arm, group in arms.items():
        best = np.mean([max(r["val_metric"] or 0 for r in run["epochs"]) for run in group])
        tests = [run["test_metric"] for run in group if run["test_metric"] is not None]
        mean, std = stats.mean_std(tests)
        test = (
            f"{100 * mean:.2f} ± {100 * std:.2f} (std, ddof=1)"
            if std is not None
            else (f"{100 * mean:.2f}" if tests else "-")
        )
        print(f"| {arm} | {group[0]['planned_epochs']} | {len(group)} | {100 * best:.2f} | {test} |")
    for target, name in targets:
        print(f"\nTarget: validation accuracy {name}\n")
        print(
            "| arm | seeds reaching | mean first epoch | mean wall time (s) | first epoch of the mean curve |"
        )
        print("|---|---|---|---|---|")
        for arm, group in arms.items():
            hits = [h for h in (first_reach(r, target) for r in group) if h]
            epoch = f"{np.mean([h[0] for h in hits]):.1f}" if hits else "never"
            wall = f"{np.mean([h[1] for h in hits]):.0f}" if hits else "-"
            reached = np.nonzero(_mean_curve(group) >= target - 1e-12)[0]
            mean_epoch = str(reached[0] + 1) if reached.size else "never"
            print(f"| {arm} | {len(hits)}/{len(group)} | {epoch} | {wall} | {mean_epoch} |")


def _other_runs(run_dir):
    """The runs of another comparison or `onecycle train` folder; constant arms are named by their rate."""
    results = storage.read_json(os.path.join(run_dir, "results.json"))
    runs = []
    for run in results["runs"]:
        name = (
            f"constant {results['max_lr']:.3g}"
            if run["arm"] in ("constant-best", "constant")
            else f"{run['arm']} ({os.path.basename(run_dir)})"
        )
        runs.append({**run, "arm": name})
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", help="folder of an `onecycle compare` run")
    parser.add_argument("--targets", default="0.92", help="comma-separated validation accuracies")
    parser.add_argument(
        "--peers", help="JSON file of the PyTorch and fit_one_cycle arms (trained when missing)"
    )
    parser.add_argument("--seeds", type=int, help="seeds of the extra arms (default: the comparison's)")
    parser.add_argument(
        "--also",
        nargs="*",
        default=[],
        metavar="RUN_DIR",
        help="more run folders on the same data and budget (e.g. constant rates from `onecycle train`)",
    )
    parser.add_argument("--json", help="also store the printed tables in this JSON file")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="checks that it runs: a two-epoch digits comparison and its extra arms in a temporary folder",
    )
    args = parser.parse_args()
    if args.quick:
        with tempfile.TemporaryDirectory() as folder:
            return _quick(args, folder)
    if args.run_dir is None:
        parser.error("the run_dir argument is required (or pass --quick)")
    _report(args)


def _quick(args, folder):
    from onecycle.experiments.cli import main as onecycle_main

    args.run_dir, args.peers, args.targets = (
        os.path.join(folder, "run"),
        os.path.join(folder, "peers.json"),
        "0.5",
    )
    code = onecycle_main(
        [
            "compare",
            "digits",
            "--epochs",
            "2",
            "--seeds",
            "1",
            "--arms",
            "constant-default,onecycle",
            "--num-steps",
            "30",
            "--out",
            args.run_dir,
            "--verbose",
            "0",
        ]
    )
    if code:
        sys.exit(code)
    _report(args)


def _report(args):
    results = storage.read_json(os.path.join(args.run_dir, "results.json"))
    runs = [
        {
            **r,
            "arm": f"constant-best ({results['max_lr']:.3g})"
            if r["arm"] in ("constant-best", "constant")
            else r["arm"],
        }
        for r in results["runs"]
    ]
    for other in args.also:
        runs += _other_runs(other)
    if args.peers:
        seeds = args.seeds or 1 + max(r["seed"] for r in results["runs"])
        runs += _load_peers(args.peers, args.run_dir, seeds)
    targets = [(float(t), f"{100 * float(t):.1f}%") for t in args.targets.split(",")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        print_tables(runs, targets)
    out = StoredOutput(getattr(args, "json", None))
    for line in printed.getvalue().splitlines():
        out.line(line)
    out.save()


if __name__ == "__main__":
    main()
