"""Fine-tuning a pretrained base on a small new task: Keras' transfer-learning recipe, fit_one_cycle on
every layer, and onecycle.fine_tune, at equal epochs, paired over seeds.

    python benchmarks/transfer.py --seeds 5 --json docs/benchmarks/transfer_fashion_mnist.json
    python benchmarks/transfer.py --quick

Pretraining is part of the experiment (nothing is downloaded): a CNN base (two conv blocks and a
Dense(128), the harness's Fashion-MNIST CNN without its classifier) is trained with 1cycle on
Fashion-MNIST classes 0-4, once, seed 0. The new task is classes 5-9 with a small training set
(`--train-size` images, drawn once), validated on the classes 5-9 of the harness's validation split
and tested on those of the test split. Every arm starts from the same pretrained base and, for a
given seed, the same new head and data order:

- `keras-recipe`: Keras' "Transfer learning & fine-tuning" guide: base frozen, Adam at its default
  rate; then unfrozen, Adam at 1e-5 (half the epochs each).
- `fit_one_cycle`: every layer trainable from the start, onecycle.optimizers.Adam, one range test.
- `fine_tune`: onecycle.fine_tune(freeze_epochs=1), the rest unfrozen with discriminative rates.
- `scratch`: fit_one_cycle on the same network without pretraining (what pretraining is worth).
"""

import argparse
import os
import sys

import keras
import numpy as np

import onecycle
from onecycle.experiments import datasets, stats
from stored_output import StoredOutput

ARMS = ("keras-recipe", "fit_one_cycle", "fine_tune", "scratch")


def build_base(input_shape):
    inputs = keras.Input(input_shape)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    return keras.Model(inputs, h, name="base")


def build_model(base, classes, seed):
    keras.utils.set_random_seed(seed)  # the head's initial weights and the data order
    inputs = keras.Input(base.input_shape[1:])
    h = keras.layers.Dropout(0.5)(base(inputs))
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax", name="head")(h))


def compile_model(model, optimizer):
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])


def split_tasks(dataset, train_size):
    source = dataset.y_train < 5
    target_train = np.nonzero(~source)[0]
    chosen = np.random.RandomState(0).permutation(target_train)[:train_size]
    val, test = dataset.y_val >= 5, dataset.y_test >= 5
    return {
        "source": (dataset.x_train[source], dataset.y_train[source]),
        "train": (dataset.x_train[chosen], dataset.y_train[chosen] - 5),
        "val": (dataset.x_val[val], dataset.y_val[val] - 5),
        "test": (dataset.x_test[test], dataset.y_test[test] - 5),
    }


def pretrain(tasks, epochs, shape):
    keras.utils.set_random_seed(0)
    base = build_base(shape)
    model = build_model(base, 5, 0)
    compile_model(model, onecycle.optimizers.SGD(momentum=0.9))
    x, y = tasks["source"]
    onecycle.fit_one_cycle(
        model, x, y, epochs=epochs, batch_size=32, verbose=0, find_lr_kwargs={"verbose": 0}
    )
    return base.get_weights()


def run_arm(arm, tasks, weights, seed, epochs, shape, steps):
    base = build_base(shape)
    if arm != "scratch":
        base.set_weights(weights)
    model = build_model(base, 5, seed)
    x, y = tasks["train"]
    fit = {"batch_size": 32, "verbose": 0, "validation_data": tasks["val"]}
    finder = {"verbose": 0, "num_steps": steps}
    if arm == "keras-recipe":
        histories = []
        base.trainable = False
        compile_model(model, keras.optimizers.Adam())
        histories.append(model.fit(x, y, epochs=epochs // 2, **fit).history)
        base.trainable = True
        compile_model(model, keras.optimizers.Adam(1e-5))
        histories.append(model.fit(x, y, epochs=epochs - epochs // 2, **fit).history)
    elif arm == "fine_tune":
        compile_model(model, onecycle.optimizers.Adam())
        result = onecycle.fine_tune(
            model, x, y, base_model=base, epochs=epochs - 1, freeze_epochs=1, find_lr_kwargs=finder, **fit
        )
        histories = [h.history for h in result.histories]
    else:
        compile_model(model, onecycle.optimizers.Adam())
        histories = [onecycle.fit_one_cycle(model, x, y, epochs=epochs, find_lr_kwargs=finder, **fit).history]
    val = [v for h in histories for v in h["val_accuracy"]]
    test = model.evaluate(*tasks["test"], batch_size=256, verbose=0, return_dict=True)["accuracy"]
    return {"arm": arm, "seed": seed, "val_accuracy": val, "best_val": max(val), "test": test}


def report(out, runs, seeds):
    by_arm = {arm: [r for r in runs if r["arm"] == arm] for arm in ARMS}
    out.line("| arm | seeds | best val accuracy (%) | test accuracy (%) |")
    out.line("|---|---|---|---|")
    for arm, group in by_arm.items():
        cells = []
        for key in ("best_val", "test"):
            mean, std = stats.mean_std([r[key] for r in group])
            cells.append(f"{100 * mean:.2f} ± {100 * std:.2f}" if std is not None else f"{100 * mean:.2f}")
        out.line(f"| {arm} | {len(group)} | {cells[0]} | {cells[1]} |")
    out.line()
    out.line("Paired over seeds (same pretrained base, head initialization and data order per seed):")
    out.line()
    out.line("| comparison | on | mean difference ± std (points) | standard error | verdict |")
    out.line("|---|---|---|---|---|")
    pairs = []
    for other in ("keras-recipe", "fit_one_cycle", "scratch"):
        for key, name in (("test", "test accuracy"), ("best_val", "best val accuracy")):
            mine = {r["seed"]: r[key] for r in by_arm["fine_tune"]}
            theirs = {r["seed"]: r[key] for r in by_arm[other]}
            pair = stats.paired(mine, theirs, "accuracy")
            pairs.append({"against": other, "value": key, **pair.as_dict()})
            std = f" ± {100 * pair.std:.2f}" if np.isfinite(pair.std) else ""
            se = f"{100 * pair.se:.2f}" if np.isfinite(pair.se) else "n/a"
            out.line(
                f"| fine_tune vs {other} | {name} | {100 * pair.mean:+.2f}{std} | {se} | **{pair.verdict}** |"
            )
    return pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6, help="epochs of every arm, all stages together")
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="digits, tiny budget: checks that it runs")
    parser.add_argument("--json")
    args = parser.parse_args()
    name, steps = "fashion_mnist", 200
    if args.quick:
        name, args.seeds, args.epochs, args.pretrain_epochs, args.train_size, steps = (
            "digits",
            1,
            2,
            1,
            100,
            20,
        )
    dataset = datasets.load(name, args.data_dir)
    tasks = split_tasks(dataset, args.train_size)
    shape = dataset.x_train.shape[1:]
    weights = pretrain(tasks, args.pretrain_epochs, shape)
    runs = []
    for seed in range(args.seeds):
        for arm in ARMS:
            runs.append(run_arm(arm, tasks, weights, seed, args.epochs, shape, steps))
            print(f"seed {seed} {arm}: test {runs[-1]['test']:.4f}", file=sys.stderr, flush=True)
    out = StoredOutput(args.json)
    out.line(
        f"{name}: pretrained on classes 0-4 ({len(tasks['source'][0])} images, {args.pretrain_epochs} epochs), "
        f"fine-tuned on classes 5-9 with {len(tasks['train'][0])} training images, {args.epochs} epochs per arm, "
        f"{args.seeds} seeds; validation {len(tasks['val'][0])}, test {len(tasks['test'][0])} images."
    )
    out.line()
    pairs = report(out, runs, args.seeds)
    out.save(
        runs=runs,
        pairs=pairs,
        backend=keras.backend.backend(),
        sizes={k: len(v[0]) for k, v in tasks.items()},
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
