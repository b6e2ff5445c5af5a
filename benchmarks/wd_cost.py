"""What `find_wd` costs against one training, measured side by side in one run.

    python benchmarks/wd_cost.py fashion_mnist --epochs 9 --json docs/benchmarks/wd_cost_fashion_mnist.json
    python benchmarks/wd_cost.py digits --quick

`find_wd` with its default weight decays (one range test each, on the same batches) on the freshly
built model, then one `fit_one_cycle` training of `--epochs` at the pair it suggests, timed apart.
"""

import argparse
import time

import keras

import onecycle
from onecycle.experiments import arms, datasets, runner
from stored_output import StoredOutput


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(datasets.REGISTRY))
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 300 samples")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.quick:
        args.epochs = 1
    if args.epochs < 1:
        parser.error(f"--epochs: must be at least 1, got {args.epochs}")
    dataset = datasets.load(args.dataset, args.data_dir, 300 if args.quick else None, 0)
    optimizer = datasets.REGISTRY[args.dataset].optimizer
    model = runner.seeded_model(dataset, arms.make_optimizer(optimizer, arms.KERAS_DEFAULT_LR[optimizer]), 0)
    start = time.perf_counter()
    found = onecycle.find_wd(model, dataset.x_train, dataset.y_train, batch_size=32, verbose=0)
    finder_seconds = time.perf_counter() - start
    rate, weight_decay = found.suggest()
    model.optimizer.weight_decay = weight_decay or None
    start = time.perf_counter()
    onecycle.fit_one_cycle(
        model, dataset.x_train, dataset.y_train, epochs=args.epochs, max_lr=rate, verbose=0, guard=False
    )
    train_seconds = time.perf_counter() - start
    out = StoredOutput(args.json)
    out.line(
        f"{args.dataset}, {len(dataset.x_train)} training samples, batch 32, backend {keras.backend.backend()}: "
        f"find_wd ({len(found.weight_decays)} range tests) took {finder_seconds:.1f} s; one {args.epochs}-epoch "
        f"training took {train_seconds:.1f} s; ratio {finder_seconds / train_seconds:.1%}."
    )
    out.save(
        finder_seconds=finder_seconds,
        train_seconds=train_seconds,
        ratio=finder_seconds / train_seconds,
        weight_decays=list(found.weight_decays),
        suggestion={"rate": rate, "weight_decay": weight_decay},
    )


if __name__ == "__main__":
    main()
