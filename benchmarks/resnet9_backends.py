"""Seconds per epoch of the harness's `--model resnet9` on each backend, and whether it compiled.

Each backend in a process of its own (`KERAS_BACKEND`), on the same CIFAR-10 subset, batch 128, SGD:
the first epoch includes tracing or compiling, the second is the steady pace. On JAX and PyTorch the
model carries the per-image `RandomPadCrop` (every layer supports jit), on TensorFlow the batch-wide
`RandomCrop` of the stored runs.

    python benchmarks/resnet9_backends.py --data-dir ../shared/data --json docs/benchmarks/resnet9_backends.json
    python benchmarks/resnet9_backends.py --quick
"""

import argparse
import json
import os
import subprocess
import sys

from stored_output import StoredOutput

CHILD = """
import json, sys, time
import keras, numpy as np
from onecycle.experiments import datasets, runner
subset, epochs, data_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] or None
dataset = datasets.load("cifar10", data_dir, subset, 0)
model = runner.seeded_model(dataset, keras.optimizers.SGD(0.05, momentum=0.9), 0, "resnet9")
times = []
class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.start)
model.fit(dataset.x_train, dataset.y_train, batch_size=128, epochs=epochs, verbose=0, callbacks=[Clock()])
crops = sorted({type(l).__name__ for l in model.layers if "Crop" in type(l).__name__})
print(json.dumps({"epoch_seconds": times, "jit_compile": bool(model.jit_compile), "crop": crops,
                  "images": int(len(dataset.x_train))}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="256 images, TensorFlow only")
    parser.add_argument("--json")
    args = parser.parse_args()
    backends = ["tensorflow"] if args.quick else ["tensorflow", "jax", "torch"]
    subset = 256 if args.quick else args.subset
    found = {}
    for backend in backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(subset), str(args.epochs), args.data_dir or ""],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        found[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    out = StoredOutput(args.json)
    out.line(
        f"CIFAR-10, {subset} training images, batch 128, SGD; seconds per epoch (the first includes compiling):"
    )
    out.line()
    out.line(
        "| backend | crop layer | compiled (`jit_compile`) | first epoch (s) | later epochs (s) | images/s after the first |"
    )
    out.line("|---|---|---|---|---|---|")
    for backend, r in found.items():
        later = r["epoch_seconds"][1:]
        pace = f"{r['images'] * len(later) / sum(later):.0f}" if later else "n/a"
        later_text = ", ".join(f"{t:.1f}" for t in later) or "n/a"
        out.line(
            f"| {backend} | {', '.join(r['crop'])} | {r['jit_compile']} | {r['epoch_seconds'][0]:.1f} "
            f"| {later_text} | {pace} |"
        )
    out.save(setup={"subset": subset, "epochs": args.epochs}, backends=found)


if __name__ == "__main__":
    main()
