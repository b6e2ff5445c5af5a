"""Time to 94% CIFAR-10 test accuracy with `fit_one_cycle` and the full-width ResNet-9, on a GPU.

    KERAS_BACKEND=jax python benchmarks/gpu_cifar10.py --data-dir ../shared/data --json docs/benchmarks/gpu_cifar10.json
    python benchmarks/gpu_cifar10.py --quick          # a tiny subset on the CPU: checks that it runs

One call of `onecycle.fit_one_cycle` (its own range test included, counted in the time) trains the
harness's ResNet-9 (`onecycle.experiments.models.resnet9`, widths 64-128-256-512, pad-crop-flip
augmentation) with `onecycle.optimizers.SGD` (momentum cycled 0.95-0.85, Nesterov off); the test
split is evaluated after every epoch (the anchor, Page's DAWNBench entry, counts time the same
way: wall time until the test accuracy first reaches the target). The stored file names the
accelerator, the backend and the library versions. Reference: a ResNet-9 reached 94% in 24 epochs,
79 s on a V100 (Page, 2018).
"""

import argparse
import math
import os
import subprocess
import sys
import time

import keras
import numpy as np

import onecycle
from onecycle.experiments import datasets, models, storage


def nvidia_smi():
    """The card as nvidia-smi names it, where there is one."""
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        smi = ""
    return smi or None


class TestAccuracy(keras.callbacks.Callback):
    """Wall time and test accuracy after every epoch; stops once `patience` epochs past the target."""

    def __init__(self, x, y, target, batch_size, start):
        super().__init__()
        self.x, self.y, self.target, self.batch_size, self.start = x, y, target, batch_size, start
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.start
        scores = self.model.evaluate(self.x, self.y, batch_size=self.batch_size, verbose=0, return_dict=True)
        self.epochs.append(
            {
                "epoch": epoch + 1,
                "seconds": seconds,
                "test_accuracy": float(scores["accuracy"]),
                "learning_rate": float(logs.get("learning_rate", math.nan)),
            }
        )
        print(
            f"epoch {epoch + 1}: test accuracy {scores['accuracy']:.4f}, {seconds:.1f} s",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with cifar10/cifar10_jpeg_q75.npz (else keras.datasets)")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--width", type=int, default=64, help="ResNet-9's first width (64: the full network)")
    parser.add_argument("--target", type=float, default=0.94)
    parser.add_argument(
        "--precision", default="mixed_bfloat16", help="Keras dtype policy (float32 on the CPU)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--range-test-steps", type=int, default=200)
    parser.add_argument("--subset", type=int, help="train on this many images, test on as many")
    parser.add_argument("--quick", action="store_true", help="256 images, 1 epoch, width 4, float32: a check")
    parser.add_argument("--json", help="store the result here")
    args = parser.parse_args(argv)
    if args.quick:
        args.subset, args.epochs, args.width, args.batch_size, args.precision = 256, 1, 4, 64, "float32"
        args.range_test_steps = 20
    for name in ("epochs", "batch_size", "width", "subset", "range_test_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
    if not 0 < args.target <= 1:
        parser.error(f"--target: must be in (0, 1], got {args.target}")

    keras.config.set_dtype_policy(args.precision)
    (x, y), (x_test, y_test), source = datasets.load_cifar10(args.data_dir)
    if args.subset:
        x, y, x_test, y_test = (
            x[: args.subset],
            y[: args.subset],
            x_test[: args.subset],
            y_test[: args.subset],
        )
    x, x_test = (
        a.astype(np.float32) for a in datasets.standardize(x.astype(np.float64), x_test.astype(np.float64))
    )
    y, y_test = y.astype(np.int32), y_test.astype(np.int32)

    keras.utils.set_random_seed(args.seed)
    model = models.resnet9(x.shape[1:], 10, width=args.width)
    model.compile(
        onecycle.optimizers.SGD(momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    start = time.perf_counter()
    tracker = TestAccuracy(x_test, y_test, args.target, 1024, start)
    history = onecycle.fit_one_cycle(
        model,
        x,
        y,
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[tracker],
        verbose=0,
        find_lr_kwargs={"num_steps": args.range_test_steps, "verbose": 0},
    )
    total = time.perf_counter() - start
    reached = [e for e in tracker.epochs if e["test_accuracy"] >= args.target]
    result = {
        "command": " ".join(["python", *sys.argv]),
        "environment": {**storage.environment(), "nvidia_smi": nvidia_smi()},
        "data": source,
        "setup": {
            k: getattr(args, k)
            for k in ("epochs", "batch_size", "width", "precision", "seed", "subset", "target")
        },
        "peak_lr": float(history.lr_finder.suggest()),
        "epochs": tracker.epochs,
        "seconds_total": total,
        "final_test_accuracy": tracker.epochs[-1]["test_accuracy"],
        "first_epoch_at_target": reached[0]["epoch"] if reached else None,
        "seconds_to_target": reached[0]["seconds"] if reached else None,
    }
    shown = (
        f"{args.target:.0%} at epoch {reached[0]['epoch']}, {reached[0]['seconds']:.1f} s"
        if reached
        else f"{args.target:.0%} not reached (final {result['final_test_accuracy']:.4f})"
    )
    print(f"{result['environment']['device']}: {shown}; {total:.1f} s in all")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        storage.write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
