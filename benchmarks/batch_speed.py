"""Images per second of one training epoch at several batch sizes, side by side in one run: the
batch size of the CIFAR-10 study is chosen from this (the article's 32 unless a larger batch trains
faster per image on the machine at hand).

    python benchmarks/batch_speed.py --model resnet9 --batch-sizes 32,128 --json docs/benchmarks/batch_speed_resnet9.json
    python benchmarks/batch_speed.py --quick
"""

import argparse
import time

import keras
import numpy as np

from onecycle.experiments import models
from stored_output import StoredOutput


def images_per_second(model_name, batch_size, images, repeats):
    x = np.random.default_rng(0).normal(size=(images, 32, 32, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 10, images)
    keras.utils.set_random_seed(0)
    model = models.builder(model_name)((32, 32, 3), 10)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    model.fit(x[: 4 * batch_size], y[: 4 * batch_size], batch_size=batch_size, epochs=1, verbose=0)  # compile
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        best = max(best, images / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet9", choices=list(models.REGISTRY))
    parser.add_argument("--batch-sizes", default="32,128")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument(
        "--repeats", type=int, default=2, help="epochs timed per batch size; the fastest counts"
    )
    parser.add_argument("--quick", action="store_true", help="256 images, one repeat")
    parser.add_argument("--json")
    args = parser.parse_args()
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.quick:
        args.images, args.repeats = 256, 1
    if min(sizes) < 1 or args.images < max(sizes) or args.repeats < 1:
        parser.error("--batch-sizes: positive and at most --images; --repeats: at least 1")
    speeds = {b: images_per_second(args.model, b, args.images, args.repeats) for b in sizes}
    out = StoredOutput(args.json)
    out.line(
        f"{args.model}, {args.images} random 32x32x3 images, backend {keras.backend.backend()}, best of {args.repeats}:"
    )
    out.line()
    out.line("| batch size | images/s | vs batch " + str(sizes[0]) + " |")
    out.line("|---|---|---|")
    for b, v in speeds.items():
        out.line(f"| {b} | {v:.0f} | {v / speeds[sizes[0]]:.2f}x |")
    out.save(
        model=args.model,
        images=args.images,
        repeats=args.repeats,
        images_per_second={str(b): v for b, v in speeds.items()},
    )


if __name__ == "__main__":
    main()
