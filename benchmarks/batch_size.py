"""How the range test's suggestion moves with the batch size, and what using the wrong one does.

    python benchmarks/batch_size.py fashion_mnist                   # batch 32 to 2048, then 1cycle at 2048
    python benchmarks/batch_size.py digits --quick

For each batch size: the range test (same model, same seed, 200 steps), its suggestions, and whether it
stopped at divergence. Then 1cycle at the largest batch size three times: with the peak rate found at
the smallest batch size, with that rate scaled linearly to the largest batch size (the linear scaling
rule), and with the rate the range test finds at the largest batch size.

    python benchmarks/batch_size.py fashion_mnist --json docs/benchmarks/batch_size_fashion_mnist.json
"""

import argparse
import math
import sys

import keras

import onecycle
from onecycle.experiments import arms, datasets, runner
from stored_output import StoredOutput


def _model(dataset, seed=0):
    return runner.seeded_model(dataset, arms.make_optimizer("sgd", 0.01), seed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dataset", choices=[n for n, spec in datasets.REGISTRY.items() if spec.task == "classification"]
    )
    parser.add_argument("--batch-sizes", default="32,64,128,256,512,1024,2048")
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also store the tables and figures in this JSON file")
    args = parser.parse_args()
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.quick:
        sizes, args.epochs = [16, 64], 1
    dataset = datasets.load(args.dataset, args.data_dir, 256 if args.quick else None, 0)
    steps = 20 if args.quick else 200

    found, figures = {}, {"range_tests": [], "onecycle": []}
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
        figures["range_tests"].append(
            {
                "batch_size": batch_size,
                "suggestions": {m: result.suggest(m) for m in ("minimum", "steepest", "valley")},
                "lowest_loss_rate": result.lrs[int(result.smoothed_losses[: len(result.lrs)].argmin())],
                "diverged": result.diverged,
            }
        )
        print(f"range test at batch {batch_size}: {found[batch_size]:.3g}", file=sys.stderr, flush=True)

    large, small = sizes[-1], sizes[0]
    peaks = [
        (f"range test at batch {small}", found[small]),
        (
            f"range test at batch {small}, times {large // small} (linear scaling)",
            found[small] * large / small,
        ),
        (f"range test at batch {large}", found[large]),
    ]
    for source, peak in peaks:
        model = _model(dataset)
        total = args.epochs * math.ceil(len(dataset.x_train) / large)
        schedule = onecycle.OneCycle(peak, total)
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
        figures["onecycle"].append(
            {
                "source": source,
                "max_lr": peak,
                "best_val_accuracy": max(history.history["val_accuracy"]),
                "final_loss": losses[-1] if math.isfinite(losses[-1]) else None,
                "diverged": not math.isfinite(losses[-1]),
                "losses": [v if math.isfinite(v) else None for v in losses],
            }
        )
    StoredOutput(args.json).save_figures(
        kind="batch_size", setup={"large": large, "epochs": args.epochs}, **figures
    )


if __name__ == "__main__":
    main()
