"""The harness's time per training over a plain `model.fit` with the same model, data, validation
data and budget, measured side by side (alternating) in one run.

    python benchmarks/harness_cost.py digits --json docs/benchmarks/harness_cost_digits.json
    python benchmarks/harness_cost.py digits --quick

The harness's training (`runner.train_one`, constant arm) adds what a run folder needs: the epoch log,
the end-of-epoch backup (`BackupAndRestore`), the divergence watch, the schedule logger and the test
evaluation at the end; the plain `fit` gets the same `evaluate` on the test split so that both do the
same work apart from the harness's.
"""

import argparse
import tempfile
import time

import keras
import numpy as np

from onecycle.experiments import arms, config, datasets, planning, runner
from stored_output import StoredOutput


def plain(dataset, cfg, seed):
    start = time.perf_counter()  # from the model's construction, as the harness's time counts it
    model = runner.seeded_model(dataset, arms.make_optimizer(cfg.model.optimizer, 0.01), seed)
    model.fit(
        dataset.x_train,
        dataset.y_train,
        validation_data=(dataset.x_val, dataset.y_val),
        epochs=cfg.arms.epochs,
        batch_size=cfg.model.batch_size,
        verbose=0,
    )
    model.evaluate(dataset.x_test, dataset.y_test, batch_size=256, verbose=0)
    return time.perf_counter() - start


def harness(dataset, cfg, seed):
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        runner.train_one(dataset, cfg, planning.Training("constant", 0.01, seed), 0, folder)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(datasets.REGISTRY))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 repeat, 300 samples")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 2, 1
    if args.epochs < 1 or args.repeats < 1:
        parser.error("--epochs and --repeats: at least 1")
    cfg = config.CompareConfig.from_options(dataset=args.dataset, epochs=args.epochs, data_dir=args.data_dir)
    dataset = datasets.load(args.dataset, args.data_dir, 300 if args.quick else None, 0)
    plain(dataset, cfg, 0)  # warm-up: the first training of a process pays for tracing
    times = {"plain": [], "harness": []}
    for repeat in range(args.repeats):
        times["plain"].append(plain(dataset, cfg, repeat))
        times["harness"].append(harness(dataset, cfg, repeat))
    ratios = [h / p for h, p in zip(times["harness"], times["plain"])]
    out = StoredOutput(args.json)
    out.line(
        f"{args.dataset}, {args.epochs} epochs, batch {cfg.model.batch_size}, backend {keras.backend.backend()}, "
        f"{args.repeats} alternating pairs:"
    )
    out.line()
    out.line("| pair | plain fit (s) | harness (s) | harness / plain |")
    out.line("|---|---|---|---|")
    for i, (p, h, r) in enumerate(zip(times["plain"], times["harness"], ratios)):
        out.line(f"| {i} | {p:.2f} | {h:.2f} | {r:.3f} |")
    out.line(f"| median | | | {float(np.median(ratios)):.3f} |")
    out.save(
        times=times,
        ratios=ratios,
        median_ratio=float(np.median(ratios)),
    )


if __name__ == "__main__":
    main()
