"""Should the harness standardize a regression target? Raw against standardized, on the bundled tables.

For each table and seed, the harness's MLP (Adam) is trained twice from the same initial weights and
data order: on the raw target (as the bundled tables run) and as a user's data runs it (the
`target_units` output layer and the MSE in standard deviations, `own_data.from_arrays`). Two arms:
`fit_one_cycle` at its defaults and Keras' default rate held constant. Judged by the final validation
RMSE in the target's units, paired by seed.

    KERAS_BACKEND=jax python benchmarks/target_scale.py --json docs/benchmarks/target_scale.json
    python benchmarks/target_scale.py --quick
"""

import argparse
import warnings

import keras

import onecycle
from onecycle.experiments import arms, datasets, own_data, report, runner, stats
from stored_output import StoredOutput

TABLES = ("boston_housing", "diabetes", "friedman1", "friedman2", "friedman3")


def _scaled(dataset):
    """The same splits, read as a user's arrays: the target standardized for training."""
    return own_data.from_arrays(
        dataset.name,
        dataset.x_train,
        dataset.y_train,
        (dataset.x_val, dataset.y_val),
        (dataset.x_test, dataset.y_test),
        task="regression",
    )


def _train(dataset, arm, seed, epochs):
    model = runner.seeded_model(
        dataset, arms.make_optimizer("adam", arms.KERAS_DEFAULT_LR["adam"]), seed, "mlp"
    )
    common = dict(validation_data=(dataset.x_val, dataset.y_val), epochs=epochs, batch_size=32, verbose=0)
    if arm == "fit_one_cycle":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="fit_one_cycle's guard")
            history = onecycle.fit_one_cycle(model, dataset.x_train, dataset.y_train, **common)
    else:
        history = model.fit(dataset.x_train, dataset.y_train, **common)
    return float(history.history["val_rmse"][-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="one table, 2 seeds, 3 epochs, 100 rows")
    parser.add_argument("--json")
    args = parser.parse_args()
    tables = ["diabetes"] if args.quick else args.tables.split(",")
    seeds = range(2 if args.quick else args.seeds)
    out = StoredOutput(args.json)
    out.line(
        f"Final validation RMSE in the target's units, mean ± std over seeds {list(seeds)}; standardized minus "
        f"raw, paired by seed (negative: standardizing helps). Backend: {keras.backend.backend()}."
    )
    out.line()
    out.line("| table | arm | raw target | standardized target | standardized - raw |")
    out.line("|---|---|---|---|---|")
    record = {}
    for name in tables:
        raw = datasets.load(name, args.data_dir, 100 if args.quick else None, 0)
        scaled = _scaled(raw)
        epochs = 3 if args.quick else datasets.REGISTRY[name].epochs
        for arm in ("fit_one_cycle", "keras-default"):
            values = {
                kind: {s: _train(data, arm, s, epochs) for s in seeds}
                for kind, data in (("raw", raw), ("scaled", scaled))
            }
            paired = stats.paired(values["scaled"], values["raw"], "rmse")
            record[f"{name}/{arm}"] = {"values": values, "paired": paired.as_dict()}
            cells = [
                report.fmt(m, "rmse", s)
                for m, s in (stats.mean_std(list(values[k].values())) for k in ("raw", "scaled"))
            ]
            diff = f"{report.fmt(paired.mean, 'rmse', signed=True)} (se {report.fmt(paired.se, 'rmse')}): {paired.verdict}"
            out.line(f"| {name} | {arm} | {cells[0]} | {cells[1]} | {diff} |")
    out.save(setup={"tables": tables, "seeds": list(seeds), "quick": args.quick}, runs=record)


if __name__ == "__main__":
    main()
