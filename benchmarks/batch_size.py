"""How the range test's suggestion moves with the batch size, and what using the wrong one does.

    python benchmarks/batch_size.py fashion_mnist                   # batch 32 to 2048, then 1cycle at 2048
    python benchmarks/batch_size.py digits --quick

For each batch size: the range test (same model, same seed, 200 steps), its suggestions, and whether it
stopped at divergence. Then 1cycle at the largest batch size twice: with the peak rate found at the
smallest batch size, and with the one found at the largest.
"""

import argparse
import math

import keras

import onecycle
from onecycle.experiments import arms, datasets, models


def _model(dataset, seed=0):
    keras.utils.set_random_seed(seed)
    model = models.for_dataset(dataset)
    model.compile(arms.make_optimizer("sgd", 0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dataset", choices=[n for n, spec in datasets.REGISTRY.items() if spec[1] == "classification"]
    )
    parser.add_argument("--batch-sizes", default="32,64,128,256,512,1024,2048")
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.quick:
        sizes, args.epochs = [16, 64], 1
    dataset = datasets.load(args.dataset, args.data_dir, 256 if args.quick else None, 0)
    steps = 20 if args.quick else 200

    print("| batch size | minimum (default) | steepest | valley | lowest-loss rate | stopped at divergence |")
    print("|---|---|---|---|---|---|")
    found = {}
    for batch_size in sizes:
        result = onecycle.find_lr(
            _model(dataset),
            dataset.x_train,
            dataset.y_train,
            batch_size=batch_size,
            num_steps=steps,
            seed=0,
            verbose=0,
        )
        found[batch_size] = result.suggest()
        lowest = result.lrs[int(result.smoothed_losses[: len(result.lrs)].argmin())]
        print(
            f"| {batch_size} | {result.suggest('minimum'):.3g} | {result.suggest('steepest'):.3g} "
            f"| {result.suggest('valley'):.3g} | {lowest:.3g} | {'yes' if result.diverged else 'no'} |",
            flush=True,
        )

    large = sizes[-1]
    print(f"\n1cycle at batch size {large}, {args.epochs} epochs:\n")
    print("| peak rate from the range test at | max_lr | best val accuracy | final train loss | diverged |")
    print("|---|---|---|---|---|")
    for source in (sizes[0], large):
        model = _model(dataset)
        total = args.epochs * math.ceil(len(dataset.x_train) / large)
        schedule = onecycle.OneCycle(found[source], total)
        onecycle.install_schedule(model, schedule, None)
        history = model.fit(
            dataset.x_train,
            dataset.y_train,
            batch_size=large,
            epochs=args.epochs,
            verbose=0,
            validation_data=(dataset.x_val, dataset.y_val),
            callbacks=[keras.callbacks.TerminateOnNaN()],
        )
        losses = history.history["loss"]
        diverged = not math.isfinite(losses[-1])
        print(
            f"| batch {source} | {found[source]:.3g} | {max(history.history['val_accuracy']):.4f} | {losses[-1]:.4g} "
            f"| {'yes, epoch ' + str(len(losses)) if diverged else 'no'} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
