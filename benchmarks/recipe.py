"""The recipe of `fit_one_cycle`, choice by choice, and against the baselines a user would pick.

    python benchmarks/recipe.py digits --json docs/benchmarks/recipe_digits.json
    python benchmarks/recipe.py boston_housing --data-dir ../shared/data --json docs/benchmarks/recipe_boston_housing.json
    python benchmarks/recipe.py fashion_mnist --variants article,cosine --baselines none --json ...
    python benchmarks/recipe.py diabetes --variants defaults --json docs/benchmarks/heldout_diabetes.json
    python benchmarks/recipe.py digits --quick

Per seed, one range test on the freshly built model gives every suggestion; then every arm trains the
same initial weights in the same data order. Variants call `fit_one_cycle` with the suggestion as
`max_lr`; baselines are Keras' default rate held constant and cosine decay with warm-up over a grid of
peaks. Every arm is judged by its validation metric at the end of training (the model the user gets),
compared seed by seed with the reference variant and with the baselines. Finished runs are kept in
`PATH.partial.json` next to `--json`, so a killed run continues where it stopped.
"""

import argparse
import math
import os
import time

import keras
import numpy as np

import onecycle
import recipe_runs
from onecycle.experiments import (
    arms,
    config,
    datasets,
    folders,
    milestones,
    report,
    runner,
    schedule_free,
    stats,
    storage,
    summary,
)
from stored_output import StoredOutput

ARTICLE = {"warmup_fraction": 0.45, "annihilation_fraction": 0.1, "shape": "linear"}
COSINE = {"warmup_fraction": 0.25, "annihilation_fraction": 0.75, "shape": "cosine"}


def _best_val(peak):
    return {"restore_best": True}


# name -> (what it is, suggestion method, fit_one_cycle keyword arguments for a peak, weight decay);
# the keyword "epochs_divisor" shortens the run, "restore_best" keeps the best epoch on a validation
# split carved from the training data (20%, the last rows, as Keras' validation_split)
VARIANTS = {
    "defaults": ("`fit_one_cycle` before the guard (guard=False)", None, lambda peak: {}, 0.0),
    "guard": (
        "`fit_one_cycle` with its defaults since the guard (guard='auto': on up to 10,000 samples)",
        None,
        lambda peak: {"guard": "auto"},
        0.0,
    ),
    "article": (
        "linear 3 phases (45% up, 45% down, 10% to start/1000), 'minimum' suggestion, momentum 0.95-0.85",
        "minimum",
        lambda peak: {"schedule_kwargs": ARTICLE},
        0.0,
    ),
    "cosine": (
        "cosine 2 phases: 25% up, then down to start/1000",
        "minimum",
        lambda peak: {"schedule_kwargs": COSINE},
        0.0,
    ),
    "valley": (
        "article, fastai's 'valley' suggestion",
        "valley",
        lambda peak: {"schedule_kwargs": ARTICLE},
        0.0,
    ),
    "steepest": (
        "article, the 'steepest' suggestion",
        "steepest",
        lambda peak: {"schedule_kwargs": ARTICLE},
        0.0,
    ),
    "no-momentum": (
        "article, momentum held at 0.9",
        "minimum",
        lambda peak: {"schedule_kwargs": ARTICLE, "cycle_momentum": None},
        0.0,
    ),
    "wd-1e-3": (
        "article, decoupled weight decay 1e-3",
        "minimum",
        lambda peak: {"schedule_kwargs": ARTICLE},
        1e-3,
    ),
    "wd-1e-2": (
        "article, decoupled weight decay 1e-2",
        "minimum",
        lambda peak: {"schedule_kwargs": ARTICLE},
        1e-2,
    ),
    "final-div-10": (
        "article, ending at start/10 instead of start/1000",
        "minimum",
        lambda peak: {"schedule_kwargs": {**ARTICLE, "final_lr": peak / 100}},
        0.0,
    ),
    "peak-div-10": (
        "defaults at a tenth of the suggested peak",
        None,
        lambda peak: {"max_lr": peak / 10},
        0.0,
    ),
    "peak-div-30": (
        "defaults at a thirtieth of the suggested peak",
        None,
        lambda peak: {"max_lr": peak / 30},
        0.0,
    ),
    "quarter": ("defaults over a quarter of the epochs", None, lambda peak: {"epochs_divisor": 4}, 0.0),
    "no-descent": (
        "defaults without the final descent (ends at the start rate, peak/10)",
        None,
        lambda peak: {"schedule_kwargs": {"final_lr": peak / 10}},
        0.0,
    ),
    "const-momentum": ("defaults, momentum held at 0.9", None, lambda peak: {"cycle_momentum": None}, 0.0),
    "best-val": (
        "defaults on 80% of the training data, keeping the epoch of lowest loss on the other 20%",
        None,
        _best_val,
        0.0,
    ),
    "val-range-test": (
        "defaults, the range test scored on a 20% validation split of the training data",
        "val-minimum",
        lambda peak: {},
        0.0,
    ),
}
FASTAI = {
    "warmup_fraction": 0.25,
    "annihilation_fraction": 0.75,
    "shape": "cosine",
    "div": 25,
    "final_div": 1e5,
}
LINEAR0 = {
    "warmup_fraction": 0.25,
    "annihilation_fraction": 0.75,
    "shape": "linear",
    "div": 10,
    "final_div": 1e5,
}


def _curve(spec):
    """`schedule_kwargs` for a peak from a curve given by its divisors of the peak."""
    spec = dict(spec)
    div, final_div = spec.pop("div"), spec.pop("final_div")
    return lambda peak: {"schedule_kwargs": {**spec, "start_lr": peak / div, "final_lr": peak / final_div}}


# The image study (docs/RECIPE.md): name -> (what it is, suggestion method (None: --suggestion),
# fit_one_cycle keyword arguments for a peak, weight decay, optimizer)
VARIANTS |= {
    "sgd": ("SGD, the default curve", None, lambda peak: {}, 0.0, "sgd"),
    "adamw": ("AdamW (weight decay 0.01), the default curve", None, lambda peak: {}, 0.01, "adamw"),
    "adam": ("Adam, the default curve", None, lambda peak: {}, 0.0, "adam"),
    "adamw-cosine": ("AdamW (weight decay 0.01), fastai's cosine curve", None, _curve(FASTAI), 0.01, "adamw"),
    "adamw-linear0": ("AdamW (weight decay 0.01), linear to near zero", None, _curve(LINEAR0), 0.01, "adamw"),
    "sgd-linear0": ("SGD, linear to near zero", None, _curve(LINEAR0), 0.0, "sgd"),
}
# Added after the image study's results (docs/RECIPE.md, "After the study: Fashion-MNIST against
# ScheduleFreeAdamW's defaults"); they choose nothing there. "ema" keeps an exponential moving average
# of the weights (Keras' `use_ema`) and hands it back at the end of `fit`.
VARIANTS |= {
    "adam-third": (
        "Adam, the default curve at a third of the suggestion (post hoc)",
        None,
        lambda peak: {"max_lr": peak / 3},
        0.0,
        "adam",
    ),
    "adam-ema": (
        "Adam, the default curve, weights averaged (EMA 0.999) (post hoc)",
        None,
        lambda peak: {"ema": 0.999},
        0.0,
        "adam",
    ),
}
IMAGE_STUDY = ("sgd", "adamw", "adam", "adamw-cosine", "adamw-linear0", "sgd-linear0")
SMALL_TABLES = (
    "defaults",
    "peak-div-10",
    "peak-div-30",
    "quarter",
    "no-descent",
    "const-momentum",
    "best-val",
    "val-range-test",
)
STUDY = ("article", "cosine", "valley", "steepest", "no-momentum", "wd-1e-3", "wd-1e-2", "final-div-10")
EPOCHS = {name: spec.epochs for name, spec in datasets.REGISTRY.items()} | {
    "fashion_mnist": 9
}  # the article's budget
SPLIT = 0.2  # the validation split the variants that need one carve from the training data


def _split(dataset):
    """(x, y) for training and (x, y) for validation: the last `SPLIT` of the training rows, as Keras'
    `validation_split`."""
    cut = len(dataset.x_train) - int(round(SPLIT * len(dataset.x_train)))
    return (dataset.x_train[:cut], dataset.y_train[:cut]), (dataset.x_train[cut:], dataset.y_train[cut:])


def _optimizer(name, rate, momentum, ema=None):
    if ema is not None:
        if name != "adam":
            raise ValueError(f"weight averaging is tried with Adam only. Received: {name}")
        return onecycle.optimizers.Adam(learning_rate=rate, beta_1=momentum, use_ema=True, ema_momentum=ema)
    if name == "adamw":
        return onecycle.optimizers.AdamW(learning_rate=rate, beta_1=momentum, weight_decay=0.01)
    return arms.make_optimizer(name, rate, momentum)


def _model(dataset, optimizer, seed, learning_rate=None, momentum=arms.MOMENTUM, model=None, ema=None):
    rate = arms.KERAS_DEFAULT_LR.get(optimizer, 0.001) if learning_rate is None else learning_rate
    return runner.seeded_model(dataset, _optimizer(optimizer, rate, momentum, ema), seed, model)


def _variant_optimizer(name, args):
    spec = VARIANTS[name]
    return spec[4] if len(spec) > 4 else args.optimizer


def _suggestion_key(seed, optimizer, args):
    return str(seed) if optimizer == args.optimizer else f"{seed}/{optimizer}"


def _suggestions(dataset, args, seed, optimizer=None):
    optimizer = optimizer or args.optimizer
    model = _model(dataset, optimizer, seed, model=args.model)
    found = onecycle.find_lr(
        model,
        dataset.x_train,
        dataset.y_train,
        batch_size=args.batch_size,
        num_steps=args.steps,
        seed=seed,
        verbose=0,
    )
    out = {method: found.suggest(method) for method in onecycle.SUGGESTION_METHODS}
    if "val-range-test" in args.variants and optimizer == args.optimizer:
        (x, y), validation = _split(dataset)
        model = _model(dataset, args.optimizer, seed, model=args.model)
        on_val = onecycle.find_lr(
            model,
            x,
            y,
            batch_size=args.batch_size,
            num_steps=args.steps,
            seed=seed,
            verbose=0,
            validation_data=validation,
        )
        out["val-minimum"] = on_val.suggest("minimum")
    return out


def _outcome(model, history, dataset):
    """The validation curve (None where the run's validation was its own split), the validation
    metric of the weights handed back, and the test metric."""
    values = [v if math.isfinite(v) else None for v in history.history.get(f"val_{dataset.metric}", [])]
    scores = {}
    for split, (x, y) in (
        ("val", (dataset.x_val, dataset.y_val)),
        ("test", (dataset.x_test, dataset.y_test)),
    ):
        value = model.evaluate(x, y, batch_size=256, verbose=0, return_dict=True)[dataset.metric]
        scores[split] = value if math.isfinite(value) else None
    return {"val": values if values else None, "final_val": scores["val"], "test": scores["test"]}


def _train_variant(dataset, args, name, seed, suggestions):
    _, method, kwargs, weight_decay = VARIANTS[name][:4]
    peak = suggestions[method or args.suggestion]
    kwargs = {"max_lr": peak, "guard": False, **kwargs(peak)}
    model = _model(
        dataset, _variant_optimizer(name, args), seed, model=args.model, ema=kwargs.pop("ema", None)
    )
    model.optimizer.weight_decay = weight_decay or None
    if kwargs["guard"] is not False:
        # the guard never overrides an explicit max_lr: let fit_one_cycle run the same range test
        # (same model, same seed, same steps) and take its suggestion itself
        del kwargs["max_lr"]
        kwargs["suggestion"] = method or args.suggestion
        kwargs["find_lr_kwargs"] = {"num_steps": args.steps, "seed": seed, "verbose": 0}
    epochs = max(1, args.epochs // kwargs.pop("epochs_divisor", 1))
    (x, y), validation = (dataset.x_train, dataset.y_train), (dataset.x_val, dataset.y_val)
    callbacks = []
    if kwargs.pop("restore_best", False):
        (x, y), validation = _split(dataset)
        callbacks.append(keras.callbacks.EarlyStopping(patience=epochs, restore_best_weights=True))
    history = onecycle.fit_one_cycle(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=args.batch_size,
        verbose=0,
        validation_data=validation,
        callbacks=callbacks,
        **kwargs,
    )
    if callbacks:
        history.history.pop(f"val_{dataset.metric}", None)  # the split's, not the validation set's
    outcome = {"lr": float(history.schedule.peak_value), **_outcome(model, history, dataset)}
    if history.guard is not None:
        outcome["guard"] = history.guard
    return outcome


def _train_baseline(dataset, args, arm, rate, seed):
    steps = math.ceil(len(dataset.x_train) / args.batch_size)
    plan = arms.plan(arm, optimizer=args.optimizer, rate=rate, epochs=args.epochs, steps_per_epoch=steps)
    model = runner.seeded_model(dataset, plan.optimizer, seed)
    callbacks = (
        [schedule_free.AveragedEvaluation(dataset.x_train, args.batch_size)] if plan.schedule_free else []
    )
    history = model.fit(
        dataset.x_train,
        dataset.y_train,
        epochs=plan.epochs,
        batch_size=args.batch_size,
        verbose=0,
        validation_data=(dataset.x_val, dataset.y_val),
        callbacks=callbacks,
    )
    return {"lr": arms.rate_of(arm, args.optimizer, rate), **_outcome(model, history, dataset)}


class Progress:
    """Finished runs and range tests, kept on disk after each one."""

    def __init__(self, path, setup):
        self.path, self.setup = path, setup
        self.record = {"setup": setup, "suggestions": {}, "runs": {}}
        for stored_at in (path, path and path.removesuffix(".partial.json")):
            if stored_at and os.path.exists(stored_at):
                stored = storage.read_json(stored_at)
                if stored["setup"] != setup:
                    raise SystemExit(f"{stored_at} holds runs of another setup; delete it or change --json")
                self.record = {k: stored[k] for k in self.record}
                break

    def get(self, section, key, compute, *args):
        if key not in self.record[section]:
            start = time.perf_counter()
            value = compute(*args)
            if section == "runs":
                value["seconds"] = time.perf_counter() - start
                print(f"  {key}: final val {value['final_val']}, {value['seconds']:.0f} s", flush=True)
            self.record[section][key] = value
            if self.path:
                storage.write_json(self.path, self.record)
        return self.record[section][key]


def _fmt(mean_std, digits=4):
    mean, std = mean_std
    if mean is None:
        return "diverged"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def _delta(p, metric):
    if p.verdict == "n/a":
        return "n/a"
    unit = " pts" if stats.higher_is_better(metric) else ""
    shown = report.fmt(p.mean, metric, signed=True) + unit + " ± " + report.fmt(p.std, metric)
    return f"{shown} (se {report.fmt(p.se, metric)}): {p.verdict}"


def _choose_cosine(runs, rates, seeds, metric):
    """The cosine peak with the best mean final validation metric, and whether it sits at an edge."""
    means = {}
    for rate in rates:
        values = [runs[f"cosine@{rate:.3g}/{s}"]["final_val"] for s in seeds]
        means[rate] = stats.mean_std(values)[0] if all(v is not None for v in values) else None
    best = summary.best_of(rates, means.get, stats.higher_is_better(metric))
    return best, summary.at_edge(rates, best)


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(datasets.REGISTRY))
    parser.add_argument("--variants", default=",".join(STUDY), help=f"comma-separated: {', '.join(VARIANTS)}")
    parser.add_argument("--reference", help="the variant others are compared with; default the first")
    parser.add_argument(
        "--baselines",
        default="all",
        help="'all' (train the cosine grid and Keras' default here), 'none', or the run folder of an "
        "`onecycle compare` on the same data, epochs and seeds: its cosine rate chosen on validation and "
        "its Keras-default arm are paired with the variants here",
    )
    parser.add_argument("--optimizer", choices=arms.OPTIMIZERS)
    parser.add_argument("--model", help="a harness model name (default: the dataset's)")
    parser.add_argument("--subset", type=int, help="keep this many samples of each split (seed 0)")
    parser.add_argument(
        "--suggestion",
        default=onecycle.DEFAULT_SUGGESTION,
        help="the suggestion rule of the variants that do not name their own",
    )
    parser.add_argument(
        "--schedule-free",
        action="store_true",
        help="also train ScheduleFreeAdamW at its defaults as a baseline (Keras' class with the harness's exact step)",
    )
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=200, help="steps of each range test")
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 2 seeds, 200 samples, 2 cosine peaks")
    parser.add_argument("--target", type=float, help="also report the first epoch reaching this val metric")
    parser.add_argument(
        "--json", help="store the table and every run; runs already stored there are not redone"
    )
    args = parser.parse_args()
    for name in ("seeds", "epochs", "batch_size", "steps"):
        value = getattr(args, name)
        if value is not None and value < (2 if name == "steps" else 1):
            parser.error(
                f"--{name.replace('_', '-')}: must be at least {2 if name == 'steps' else 1}, got {value}"
            )
    args.variants = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown variant {', '.join(unknown)} (choose from {', '.join(VARIANTS)})")
    if args.reference not in (None, *args.variants):
        parser.error(f"--reference: {args.reference!r} is not one of --variants")
    args.reference = args.reference or args.variants[0]
    if args.baselines not in ("all", "none") and not os.path.isfile(
        os.path.join(args.baselines, "results.json")
    ):
        parser.error(
            f"--baselines: {args.baselines!r} is neither 'all', 'none' nor a run folder with results.json"
        )
    args.optimizer = args.optimizer or datasets.REGISTRY[args.dataset].optimizer
    args.epochs = args.epochs or EPOCHS.get(args.dataset, 10)
    if args.suggestion not in onecycle.SUGGESTION_METHODS:
        parser.error(
            f"--suggestion: must be one of {', '.join(onecycle.SUGGESTION_METHODS)}, got {args.suggestion!r}"
        )
    if args.quick:
        args.epochs, args.seeds, args.steps, args.subset = 2, 2, 20, 200
    return args


def _imported(run_dir, runs, epochs, seeds):
    """Put the arms of an `onecycle compare` folder into `runs` (same seeds: the same initial weights
    and data order as here): every family's rate chosen on validation there, Keras' default,
    ScheduleFreeAdamW's default and the folder's own `fit_one_cycle` (`product`). Returns the
    (key, label) of each, and the cosine rate as a grid of one."""
    config, results = folders.load_folder(run_dir)
    chosen = [
        c for c in results["selection"]["chosen"] if c["epochs"] == epochs and c["family"] != "onecycle"
    ]
    if not any(c["family"] == "cosine" for c in chosen):
        raise SystemExit(f"{run_dir} chose no cosine rate at {epochs} epochs")
    wanted = {
        ("constant-default", None): "keras-default",
        ("schedule-free-default", None): "schedule-free-default",
    }
    wanted[("onecycle", None)] = "product"
    for c in chosen:
        if c["arm"] not in ("constant-default", "schedule-free-default"):
            wanted[(c["family"], f"{c['lr']:.12g}")] = c["arm"]
    by_rate = {"constant-default", "schedule-free-default", "onecycle"}
    for run in folders.all_runs(run_dir, config, results):
        key = (run["arm"], None if run["arm"] in by_rate else f"{run['lr']:.12g}")
        if key in wanted and run["planned_epochs"] == epochs and run["seed"] in seeds:
            values = [e["val_metric"] for e in run["epochs"]]
            lr = run.get("peak_lr") or run["lr"]
            record = {"lr": lr, "val": values, "final_val": values[-1], "test": run["test_metric"]}
            runs[f"{wanted[key]}/{run['seed']}"] = {**record, "seconds": 0.0, "from": run_dir}
    missing = [f"{name}/{s}" for name in wanted.values() for s in seeds if f"{name}/{s}" not in runs]
    if missing:
        raise SystemExit(f"{run_dir} lacks the runs {', '.join(missing)}")
    labels = {"keras-default": "Keras default", "schedule-free-default": "ScheduleFreeAdamW default"}
    labels["product"] = "stored fit_one_cycle"
    baselines = [(name, labels.get(name, f"best {name.split('@')[0]}")) for name in wanted.values()]
    rate = next(c["lr"] for c in chosen if c["family"] == "cosine")
    return baselines, [rate]


def _train_all(dataset, args, progress, seeds):
    """Every run, each skipped when `progress` holds it; returns the cosine grid (empty without baselines)."""
    for name in args.variants:
        optimizer = _variant_optimizer(name, args)
        for s in seeds:
            key = _suggestion_key(s, optimizer, args)
            found = progress.get("suggestions", key, _suggestions, dataset, args, s, optimizer)
            progress.get("runs", f"{name}/{s}", _train_variant, dataset, args, name, s, found)
    suggestions = {
        s: progress.get("suggestions", str(s), _suggestions, dataset, args, s, args.optimizer) for s in seeds
    }
    if args.baselines == "none":
        return []
    if args.baselines != "all":
        args.imported, grid = _imported(args.baselines, progress.record["runs"], args.epochs, seeds)
        return grid
    exponents = (-1.0, 0.0) if args.quick else config.AUTO_GRID_EXPONENTS
    grid = [suggestions[0]["minimum"] * 10**e for e in exponents]
    for rate in grid:
        for s in seeds:
            progress.get("runs", f"cosine@{rate:.3g}/{s}", _train_baseline, dataset, args, "cosine", rate, s)
    for s in seeds:
        progress.get(
            "runs", f"keras-default/{s}", _train_baseline, dataset, args, "constant-default", None, s
        )
        if args.schedule_free:
            progress.get(
                "runs",
                f"schedule-free-default/{s}",
                _train_baseline,
                dataset,
                args,
                "schedule-free-default",
                None,
                s,
            )
    return grid


def _variant_row(runs, name, reference, baselines, seeds, metric):
    val = recipe_runs.by_seed(runs, name, seeds)
    versus = {key: stats.paired(val, recipe_runs.by_seed(runs, key, seeds), metric) for key, _ in baselines}
    to_reference = (
        None if name == reference else stats.paired(val, recipe_runs.by_seed(runs, reference, seeds), metric)
    )
    row = {
        "variant": name,
        "what": VARIANTS[name][0],
        "peak_mean": float(np.mean([runs[f"{name}/{s}"]["lr"] for s in seeds])),
        "peaks": [runs[f"{name}/{s}"]["lr"] for s in seeds],
        "guard_chose": [runs[f"{name}/{s}"].get("guard", {}).get("chose") for s in seeds],
        "final_val": stats.mean_std(list(val.values())),
        "test": stats.mean_std([runs[f"{name}/{s}"]["test"] for s in seeds]),
        "vs_reference": to_reference and to_reference.as_dict(),
        "vs_baselines": {key: p.as_dict() for key, p in versus.items()},
    }
    ran = [
        f"constant (guard; peak {p:.3g})" if chose == "constant" else f"{p:.3g}"
        for p, chose in zip(row["peaks"], row["guard_chose"])
    ]
    cells = [f"`{name}`", row["what"], ", ".join(ran), _fmt(row["final_val"])]
    cells.append("reference" if to_reference is None else _delta(to_reference, metric))
    cells += [_delta(p, metric) for p in versus.values()] + [_fmt(row["test"])]
    return row, cells


def first_epochs(runs, key, seeds, target, metric):
    """Per seed, the first epoch (from 1) whose validation metric reaches `target`, or None."""
    higher = stats.higher_is_better(metric)
    return {
        s: milestones.first_epoch_reaching(
            np.array([np.nan if v is None else v for v in runs[f"{key}/{s}"]["val"]]), target, higher
        )
        for s in seeds
    }


def _reaching(epochs):
    hits = [e for e in epochs.values() if e is not None]
    mean = f", mean epoch {np.mean(hits):.1f}" if hits else ""
    return f"{len(hits)}/{len(epochs)}{mean}"


def _baseline_cells(runs, key, label, seeds, blanks):
    val = stats.mean_std([runs[f"{key}/{s}"]["final_val"] for s in seeds])
    test = stats.mean_std([runs[f"{key}/{s}"]["test"] for s in seeds])
    return [f"`{key}`", label, f"{runs[f'{key}/0']['lr']:.3g}", _fmt(val), *[""] * blanks, _fmt(test)]


def _report(out, dataset, args, runs, grid, seeds):
    metric = dataset.metric
    out.line(
        f"{dataset.name}, {args.optimizer}, {args.epochs} epochs, batch {args.batch_size}, seeds {seeds[0]}-{seeds[-1]}; "
        f"{metric} at the end of training (mean ± std over seeds); differences paired by seed."
    )
    out.line()
    baselines = []
    if getattr(args, "imported", None):
        baselines = args.imported
        best_rate = grid[0]
    elif grid:
        best_rate, at_edge = _choose_cosine(runs, grid, seeds, metric)
        baselines = [(f"cosine@{best_rate:.3g}", "best cosine"), ("keras-default", "Keras default")]
        if args.schedule_free:
            baselines.append(("schedule-free-default", "ScheduleFreeAdamW default"))
    columns = ["arm", "what", "peak per seed", f"final val {metric}", f"vs {args.reference} (val)"]
    columns += [f"vs {label} (val)" for _, label in baselines] + [f"test {metric}"]
    if args.target is not None:
        columns.append(f"seeds reaching val {args.target:g}")
    out.line("| " + " | ".join(columns) + " |")
    out.line("|" + "---|" * len(columns))
    rows = []
    for name in args.variants:
        row, cells = _variant_row(runs, name, args.reference, baselines, seeds, metric)
        if args.target is not None:
            row["first_epochs"] = first_epochs(runs, name, seeds, args.target, metric)
            cells.append(_reaching(row["first_epochs"]))
        rows.append(row)
        out.line("| " + " | ".join(cells) + " |")
    for key, label in baselines:
        cells = _baseline_cells(runs, key, label, seeds, 1 + len(baselines))
        if args.target is not None:
            cells.append(_reaching(first_epochs(runs, key, seeds, args.target, metric)))
        out.line("| " + " | ".join(cells) + " |")
    if grid:
        out.line()
        if args.baselines == "all":
            where = "at the grid's edge" if at_edge else "inside the grid"
            out.line(
                f"Cosine with warm-up, peaks {', '.join(f'{r:.3g}' for r in grid)}: chosen on validation "
                f"{best_rate:.3g} ({where})."
            )
        else:
            out.line(
                f"Baselines from `{args.baselines}` (same seeds, initial weights and data order): the rates "
                f"chosen on validation there, its Keras-default and ScheduleFreeAdamW-default arms, and its "
                f"own `fit_one_cycle` arm (`product`; peak per seed in the run folder)."
            )
    minutes = sum(r["seconds"] for r in runs.values()) / 60
    out.line(f"{len(runs)} trainings, {minutes:.1f} minutes in all.")
    return rows


def main():
    args = _arguments()
    dataset = datasets.load(args.dataset, args.data_dir, args.subset, 0)
    seeds = list(range(args.seeds))
    setup = {k: getattr(args, k) for k in ("dataset", "optimizer", "epochs", "batch_size", "steps", "quick")}
    setup |= {k: getattr(args, k) for k in ("model", "subset", "suggestion") if getattr(args, k) is not None}
    if setup.get("suggestion") == "minimum":
        del setup["suggestion"]  # the setup of the runs stored before the option existed
    partial = args.json and f"{args.json}.partial.json"
    progress = Progress(partial, setup)
    grid = _train_all(dataset, args, progress, seeds)
    runs = progress.record["runs"]
    out = StoredOutput(args.json)
    rows = _report(out, dataset, args, runs, grid, seeds)
    out.save(
        setup=setup,
        metric=dataset.metric,
        reference=args.reference,
        rows=rows,
        runs=runs,
        suggestions=progress.record["suggestions"],
    )
    if partial and os.path.exists(partial):
        os.remove(partial)


if __name__ == "__main__":
    main()
