"""Runs the commands of the harness: range test, training runs, comparisons. Uses the public library API."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import warnings
from typing import TYPE_CHECKING

import keras
import numpy as np

import onecycle
from onecycle.experiments import arms, models, plots, progress, report, schedule_free, storage, summary
from onecycle.experiments.config import ConfigError
from onecycle.experiments.planning import needs_range_test, planned_runs
from onecycle.experiments.recorders import DivergenceRecorder, EpochLog

if TYPE_CHECKING:
    from collections.abc import Callable

    from onecycle.experiments.config import CompareConfig, FindLRConfig
    from onecycle.experiments.datasets import Dataset
    from onecycle.experiments.planning import Training


def _scaled_mse(variance):
    def mse_in_stds(y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        return (
            keras.ops.mean(
                keras.ops.square(y_pred - keras.ops.reshape(y_true, keras.ops.shape(y_pred))), axis=-1
            )
            / variance
        )

    return mse_in_stds


def compile_for(model: keras.Model, dataset: Dataset, optimizer: keras.optimizers.Optimizer) -> None:
    """Compile with the loss and metric of the dataset's task (cross-entropy and accuracy, or MSE and
    RMSE). A classifier may end in probabilities (a softmax) or in logits: the loss takes either."""
    if dataset.task == "regression":
        # a user's target (`target_scale`): the model ends in `target_units` (output * std + mean)
        # and the loss is the MSE in standard deviations, as if trained on the standardized target;
        # the RMSE metric stays in the target's units
        variance = dataset.target_scale[1] ** 2 if dataset.target_scale else 1.0
        loss = "mse" if variance == 1.0 else _scaled_mse(variance)
        model.compile(optimizer, loss, metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    else:
        logits = models.gives_logits(model, dataset.x_train)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
        model.compile(optimizer, loss, metrics=["accuracy"])


def seeded_model(
    dataset: Dataset, optimizer: keras.optimizers.Optimizer, seed: int, model: str | Callable | None = None
) -> keras.Model:
    """The dataset's model (`model`: a `models.build` spec, None for the default) with the initial
    weights of `seed`, compiled with `optimizer`. The global seed is set too, so the data order of
    the next `fit` follows `seed`: runs of one seed pair."""
    keras.utils.set_random_seed(seed)
    model = models.for_dataset(dataset, model)
    compile_for(model, dataset, optimizer)
    # Keras' first `fit` or `evaluate` of a model builds its compiled loss and metrics, and on JAX
    # and PyTorch that draws one shuffle from the global stream; build them here, the same way for
    # every arm, so that a later range test (which builds them too) changes no arm's data order.
    model.evaluate(dataset.x_train[:1], dataset.y_train[:1], verbose=0)
    # Built here, eagerly: on TensorFlow, Keras 3.15's ScheduleFreeAdamW built inside the first train
    # step starts its `z` sequence at zero instead of at the initial weights, which throws them away.
    model.optimizer.build(model.trainable_variables)
    return model


def prepare_run_dir(config: FindLRConfig) -> str:
    """Check that the run folder can be written (empty, or `overwrite`) and create it."""
    path = config.out_dir()
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"--out: {path!r} exists and is not a folder")
    if os.path.isdir(path) and os.listdir(path) and not config.output.overwrite:
        raise ConfigError(f"--out: {path!r} exists and is not empty (pass --overwrite to write into it)")
    parent = os.path.dirname(os.path.abspath(path))
    existing = parent
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.access(existing, os.W_OK) or (os.path.isdir(path) and not os.access(path, os.W_OK)):
        raise ConfigError(f"--out: {path!r} cannot be written")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"--out: {path!r} cannot be created ({error.strerror})") from None
    return path


def range_test(config: FindLRConfig, dataset: Dataset, verbose: int) -> onecycle.LRFinderResult:
    name, test = config.model.optimizer, config.range_test
    model = seeded_model(
        dataset, arms.make_optimizer(name, arms.KERAS_DEFAULT_LR[name]), test.seed, config.model.spec
    )
    return onecycle.find_lr(
        model,
        dataset.x_train,
        dataset.y_train,
        batch_size=config.model.batch_size,
        num_steps=test.num_steps,
        seed=test.seed,
        verbose=verbose,
    )


def find_lr(config: FindLRConfig) -> tuple[onecycle.LRFinderResult, str]:
    """`onecycle find-lr`: writes finder.json, finder.png and config.json; returns the result."""
    dataset = config.data.load(config.range_test.seed)
    models.for_dataset(dataset, config.model.spec)  # a bad model: nothing written
    path = prepare_run_dir(config)
    storage.write_json(os.path.join(path, "config.json"), config.to_dict())
    result = range_test(config, dataset, verbose=1)
    result_path = os.path.join(path, "finder.json")
    result.save(result_path)
    plots.save_finder_plot(result, os.path.join(path, "finder.png"), config.range_test.method)
    return result, path


def backup_dir(run_dir: str, label: str, seed: int) -> str:
    return os.path.join(run_dir, "backups", f"{label}-seed{seed}")


def train_one(
    dataset: Dataset,
    config: CompareConfig,
    training: Training,
    verbose: int,
    run_dir: str,
    label: str | None = None,
) -> dict:
    """One `Training`; returns its record for results.json. The product's arms call `fit_one_cycle`
    as a user would (its own range test and, on small data, its guard) unless given a peak.

    A training killed before it finished starts again from its own start: the same seed gives the
    same initial weights, range test and data order, so its result is the one an uninterrupted run
    gives (a mid-training backup would resume with another data order). Its scratch folder
    (`backups/LABEL-seedN`, the per-epoch log) is cleared first."""
    arm, seed = training.arm, training.seed
    batch_size, optimizer = config.model.batch_size, config.model.optimizer
    steps_per_epoch = math.ceil(len(dataset.x_train) / batch_size)
    scratch = backup_dir(run_dir, label or arm, seed)
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    plan = arms.plan(
        arm,
        optimizer=optimizer,
        rate=training.rate,
        epochs=config.arms.epochs,
        steps_per_epoch=steps_per_epoch,
    )
    model = seeded_model(dataset, plan.optimizer, seed, config.model.spec)
    divergence, log = (
        DivergenceRecorder(steps_per_epoch),
        EpochLog(os.path.join(scratch, "epochs.json"), dataset.metric),
    )
    callbacks = [divergence, log]
    if plan.schedule_free:
        callbacks.insert(0, schedule_free.AveragedEvaluation(dataset.x_train, batch_size))
    common = dict(
        validation_data=(dataset.x_val, dataset.y_val),
        epochs=plan.epochs,
        batch_size=batch_size,
        verbose=verbose,
    )
    peak = guard = None
    if plan.fit_one_cycle is not None:
        kwargs = plan.fit_one_cycle.kwargs(config.range_test.method, config.range_test.num_steps)
        with warnings.catch_warnings():  # the guard's choice goes into the record and the progress line
            warnings.filterwarnings("ignore", message="fit_one_cycle's guard")
            history = onecycle.fit_one_cycle(
                model, dataset.x_train, dataset.y_train, callbacks=callbacks, **kwargs, **common
            )
        peak, guard = history.schedule.peak_value, history.guard
        cycle = onecycle.CYCLE_MOMENTUM if plan.fit_one_cycle.cycle_momentum else None
        plan.learning_rate = history.schedule
        plan.momentum = history.schedule.momentum(*cycle) if cycle else arms.MOMENTUM
        if guard is not None and guard["chose"] == "constant":  # what trained: the compiled rate, constant
            plan.learning_rate, plan.momentum = guard["constant_rate"], arms.MOMENTUM
    else:
        model.fit(
            dataset.x_train, dataset.y_train, callbacks=[onecycle.ScheduleLogger(), *callbacks], **common
        )
    test = (
        model.evaluate(dataset.x_test, dataset.y_test, batch_size=256, verbose=0, return_dict=True)[
            dataset.metric
        ]
        if len(dataset.x_test)
        else float("nan")
    )
    record = {
        "arm": arm,
        "lr": training.recorded_rate(optimizer),
        "seed": seed,
        "planned_epochs": plan.epochs,
        "steps_per_epoch": steps_per_epoch,
        "epochs": log.epochs,
        "test_metric": test if math.isfinite(test) else None,
        "diverged_step": divergence.step,
        "learning_rate": storage.describe_value(plan.learning_rate),
        "momentum": storage.describe_value(plan.momentum),
        "optimizer": f"{type(model.optimizer).__module__}.{type(model.optimizer).__qualname__}",
        "environment": storage.environment(),
    }
    if peak is not None:
        record["peak_lr"] = float(peak)
    if guard is not None:
        record["guard"] = guard
    return record


def _verbose(config):
    """Keras' verbosity: `--verbose`, else silent (the harness prints one line per training)."""
    return 0 if config.arms.verbose is None else config.arms.verbose


def _digest(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprint_of(dataset: Dataset, config: CompareConfig) -> dict[str, str]:
    """Digests of the data as trained on (every split, after standardizing) and of the model's
    source (the file of a PATH.py:FUNCTION model, else its name), stored in results.json: `--resume`
    refuses a run folder whose data or model changed since."""
    splits = (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val, dataset.x_test, dataset.y_test)
    model = config.model.spec
    model = model if isinstance(model, str) or model is None else repr(model)
    source = str(model)
    if isinstance(model, str) and ".py:" in model:
        file = model.rsplit(":", 1)[0]
        if os.path.isfile(file):
            with open(file, "rb") as f:
                source = f"{model}\n" + hashlib.sha256(f.read()).hexdigest()
    return {"data": _digest(*splits), "model": hashlib.sha256(source.encode()).hexdigest()}


def compare(config: CompareConfig, resume: bool = False, dataset: Dataset | None = None) -> tuple[dict, str]:
    """`onecycle compare` / `onecycle train`: range test, every arm, rate and seed, results.json, report.
    `dataset`: a loaded `Dataset` (the Python API's arrays) instead of the config's."""
    dataset = dataset or config.data.load(0)
    model_description = models.describe(
        models.for_dataset(dataset, config.model.spec)
    )  # bad: nothing written
    path = config.out_dir() if resume else prepare_run_dir(config)
    results_path = os.path.join(path, "results.json")
    results = storage.read_json(results_path) if resume and os.path.exists(results_path) else None
    if results is None:
        results = {
            "dataset": {
                "name": dataset.name,
                "source": dataset.source,
                "metric": dataset.metric,
                **dataset.sizes(),
            },
            "model": model_description,
            "finder": None,
            "max_lr": config.arms.max_lr,
            "baselines": config.baseline_list(),
            "runs": [],
        }
    fingerprint = fingerprint_of(dataset, config)
    stored = results.get("fingerprint")
    if stored is not None and stored != fingerprint:
        changed = [key for key in fingerprint if stored.get(key) != fingerprint[key]]
        what = {
            "data": f"the data ({config.data.file or config.data.dataset})",
            "model": f"the model ({config.model.spec})",
        }
        raise ConfigError(
            f"--resume: {', '.join(what.get(k, k) for k in changed)} differs from what {path!r} was trained on; "
            "resuming would mix two runs in one results.json (start a new run folder instead)"
        )
    results["fingerprint"] = fingerprint
    storage.write_json(os.path.join(path, "config.json"), config.to_dict())
    if results["max_lr"] is None and needs_range_test(config.arms):
        finder = range_test(config, dataset, verbose=_verbose(config) == 1)
        finder.save(os.path.join(path, "finder.json"))
        results["finder"] = {
            "suggestion": finder.suggest(config.range_test.method),
            "method": config.range_test.method,
            "diverged": finder.diverged,
        }
        results["max_lr"] = results["finder"]["suggestion"]
        storage.write_json(results_path, results)
    higher = dataset.task == "classification"
    shown = progress.Progress()
    while True:
        runs = summary.normalize_runs(results, config.model.optimizer)
        done = {(r["arm"], f"{r['lr']:.12g}", r["seed"]) for r in runs}
        planned = planned_runs(config.arms, config.model.optimizer, results["max_lr"] or 1.0, runs, higher)
        todo = [t for t in planned if t.key(config.model.optimizer) not in done]
        if not todo:
            break
        rates_per_arm = {}
        for t in planned:
            rates_per_arm.setdefault(t.arm, set()).add(t.rate)
        training = todo[0]
        many = len(rates_per_arm[training.arm]) > 1
        label = f"{training.arm}@{training.rate:.4g}" if many else training.arm
        shown.started(len(done), len(planned))
        record = train_one(dataset, config, training, _verbose(config), path, label)
        results["runs"].append(record)
        storage.write_json(results_path, results)
        shutil.rmtree(backup_dir(path, label, training.seed), ignore_errors=True)
        shown.finished(label, training.seed, record, dataset.metric)
    shown.close()
    shutil.rmtree(os.path.join(path, "backups"), ignore_errors=True)
    report.write(path, config.to_dict(), results)
    return results, path
