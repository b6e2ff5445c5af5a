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
import os
import sys
import tempfile
import time

import keras
import numpy as np

import onecycle
from onecycle.experiments import datasets, folders, runner, storage, summary
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


def _load_peers(path, run_dir, seeds):
    """The runs in `path`, after training the missing ones (the file is rewritten, atomically, after each)."""
    runs = storage.read_json(path) if os.path.exists(path) else []
    for run in train_peers(run_dir, seeds, done={(r["arm"], r["seed"]) for r in runs}):
        runs.append(run)
        storage.write_json(path, runs)
    return runs


def _named(run_dir, folder=None):
    """The runs of a comparison or `onecycle train` folder, constant arms named by their rate and the
    arms of other folders by their folder."""
    runs = []
    config, results = folders.load_folder(run_dir)
    for run in summary.normalize_runs(results, config["optimizer"]):
        if run["arm"] in ("constant", "constant-default"):
            name = f"{run['arm']} {run['lr']:.3g}"
        else:
            name = run["arm"] if folder is None else f"{run['arm']} ({os.path.basename(folder)})"
        runs.append({**run, "arm": name})
    return runs


def stored(run):
    """What the tables are computed from: a run's arm, seed, budget, test accuracy and, per epoch,
    the validation accuracy and the wall time."""
    return {
        "arm": run["arm"],
        "seed": run["seed"],
        "planned_epochs": run["planned_epochs"],
        "test_metric": run["test_metric"],
        "epochs": [{k: e[k] for k in ("epoch", "val_metric", "wall_time")} for e in run["epochs"]],
    }


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
    runs = _named(args.run_dir)
    for other in args.also:
        runs += _named(other, other)
    if args.peers:
        seeds = args.seeds or 1 + max(r["seed"] for r in results["runs"])
        runs += _load_peers(args.peers, args.run_dir, seeds)
    runs = [stored(r) for r in runs]
    targets = [float(t) for t in args.targets.split(",")]
    StoredOutput(getattr(args, "json", None)).save_figures(kind="time_to_target", targets=targets, runs=runs)


if __name__ == "__main__":
    main()
