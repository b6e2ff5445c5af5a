"""Runs the commands of the harness: range test, training runs, comparisons. Uses the public library API."""

import dataclasses
import hashlib
import math
import os
import shutil
import time
import warnings

import keras
import numpy as np

import onecycle
from onecycle.experiments import arms, models, progress, report, schedule_free, storage, summary
from onecycle.experiments.config import ConfigError, to_dict


class DivergenceRecorder(keras.callbacks.Callback):
    """Stops training at the first non-finite batch loss and remembers its step (1-based, counted
    from the epoch and batch indices). Not `async_safe`: on JAX a batch's loss may be a donated
    buffer by the time an asynchronous call would read it."""

    def __init__(self, steps_per_epoch):
        super().__init__()
        self.steps_per_epoch, self.epoch, self.step = steps_per_epoch, 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self.step is None and loss is not None and not math.isfinite(float(loss)):
            self.step = self.epoch * self.steps_per_epoch + batch + 1
            self.model.stop_training = True


class EpochLog(keras.callbacks.Callback):
    """Keeps one record per finished epoch in `path` (JSON, written atomically), wall time included:
    the progress of a training while it runs."""

    def __init__(self, path, metric):
        super().__init__()
        self.path, self.metric, self.epochs = path, metric, []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["wall_time"] = time.perf_counter() - self.start
        self.epochs.append(
            {
                "epoch": epoch + 1,
                "loss": logs.get("loss"),
                "val_loss": logs.get("val_loss"),
                "metric": logs.get(self.metric),
                "val_metric": logs.get(f"val_{self.metric}"),
                "learning_rate": logs["learning_rate"],
                "momentum": logs.get("momentum", arms.MOMENTUM),
                "wall_time": logs["wall_time"],
            }
        )
        storage.write_json(self.path, self.epochs)


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


def compile_for(model, dataset, optimizer):
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


def seeded_model(dataset, optimizer, seed, model=None):
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


def prepare_run_dir(config):
    """Check that the run folder can be written (empty, or `overwrite`) and create it."""
    path = config.out_dir()
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"--out: {path!r} exists and is not a folder")
    if os.path.isdir(path) and os.listdir(path) and not config.overwrite:
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


def range_test(config, dataset, verbose):
    optimizer = arms.make_optimizer(config.optimizer, arms.KERAS_DEFAULT_LR[config.optimizer])
    model = seeded_model(dataset, optimizer, config.seed, config.model)
    return onecycle.find_lr(
        model,
        dataset.x_train,
        dataset.y_train,
        batch_size=config.batch_size,
        num_steps=config.num_steps,
        seed=config.seed,
        verbose=verbose,
    )


def find_lr(config):
    """`onecycle find-lr`: writes finder.json, finder.png and config.json; returns the result."""
    dataset = config.load_data(config.seed)
    models.for_dataset(dataset, config.model)  # a bad model: nothing written
    path = prepare_run_dir(config)
    storage.write_json(os.path.join(path, "config.json"), to_dict(config))
    result = range_test(config, dataset, verbose=1)
    result_path = os.path.join(path, "finder.json")
    result.save(result_path)
    report.save_finder_plot(result, os.path.join(path, "finder.png"), config.method)
    return result, path


def backup_dir(run_dir, label, seed):
    return os.path.join(run_dir, "backups", f"{label}-seed{seed}")


OWN_RATE = 0.0  # the rate results.json records for a training whose own range test picks its peak


@dataclasses.dataclass(frozen=True)
class Training:
    """One planned training: `arm` at `rate` on `seed`. `rate` is a grid or given rate, the default
    of an arm that trains at its optimizer's default, or, for the arms that call `fit_one_cycle`,
    the peak it is given (`--max-lr`), None where its own range test settles it."""

    arm: str
    rate: float | None
    seed: int

    def recorded_rate(self, optimizer):
        """The rate results.json records for it (runs are matched on it)."""
        return OWN_RATE if self.rate is None else arms.rate_of(self.arm, optimizer, self.rate)

    def key(self, optimizer):
        return self.arm, f"{self.recorded_rate(optimizer):.12g}", self.seed


def train_one(dataset, config, training, verbose, run_dir, label=None):
    """One `Training`; returns its record for results.json. The product's arms call `fit_one_cycle`
    as a user would (its own range test and, on small data, its guard) unless given a peak.

    A training killed before it finished starts again from its own start: the same seed gives the
    same initial weights, range test and data order, so its result is the one an uninterrupted run
    gives (a mid-training backup would resume with another data order). Its scratch folder
    (`backups/LABEL-seedN`, the per-epoch log) is cleared first."""
    arm, seed = training.arm, training.seed
    steps_per_epoch = math.ceil(len(dataset.x_train) / config.batch_size)
    scratch = backup_dir(run_dir, label or arm, seed)
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    plan = arms.plan(
        arm,
        optimizer=config.optimizer,
        rate=training.rate,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
    )
    model = seeded_model(dataset, plan.optimizer, seed, config.model)
    divergence, log = (
        DivergenceRecorder(steps_per_epoch),
        EpochLog(os.path.join(scratch, "epochs.json"), dataset.metric),
    )
    callbacks = [divergence, log]
    if plan.schedule_free:
        callbacks.insert(0, schedule_free.AveragedEvaluation(dataset.x_train, config.batch_size))
    common = dict(
        validation_data=(dataset.x_val, dataset.y_val),
        epochs=plan.epochs,
        batch_size=config.batch_size,
        verbose=verbose,
    )
    peak = guard = None
    if plan.fit_one_cycle is not None:
        kwargs = dict(plan.fit_one_cycle)
        if "max_lr" not in kwargs:
            kwargs["suggestion"] = config.method
            kwargs["find_lr_kwargs"] = {"num_steps": config.num_steps, "verbose": 0}
        with warnings.catch_warnings():  # the guard's choice goes into the record and the progress line
            warnings.filterwarnings("ignore", message="fit_one_cycle's guard")
            history = onecycle.fit_one_cycle(
                model, dataset.x_train, dataset.y_train, callbacks=callbacks, **kwargs, **common
            )
        peak, guard = history.schedule.peak_value, history.guard
        cycle = kwargs.get("cycle_momentum", onecycle.CYCLE_MOMENTUM)
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
        "lr": training.recorded_rate(config.optimizer),
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
    return 0 if config.verbose is None else config.verbose


GRID_STEP = 10**0.5  # an extension of a grid adds one rate half a decade beyond its edge
MAX_EXTENSIONS = 2  # per side


def _grid_choice(runs, arm, grid, seeds, higher):
    """The grid of `arm`, extended past an edge where the best rate (mean best validation value over
    `seeds`) sits there, and the chosen rate once every rate of it ran on `seeds`; the chosen rate
    is None while the grid is unfinished."""
    grid, low, high = sorted(grid), 0, 0
    while True:
        scores = {}
        for rate in grid:
            values = [
                summary.best_val(r, higher)
                for r in runs
                if r["arm"] == arm and f"{r['lr']:.12g}" == f"{rate:.12g}" and r["seed"] in seeds
            ]
            if len(values) < len(seeds):
                return grid, None
            scores[rate] = None if None in values else sum(values) / len(values)
        best = summary.best_of(grid, scores.get, higher)
        if best is None:
            return grid, None
        if best == grid[0] and low < MAX_EXTENSIONS:
            grid, low = [grid[0] / GRID_STEP, *grid], low + 1
        elif best == grid[-1] and high < MAX_EXTENSIONS:
            grid, high = [*grid, grid[-1] * GRID_STEP], high + 1
        else:
            return grid, best


def planned_runs(config, max_lr, runs=None, higher=True):
    """Every `Training` known so far: the baseline arms that take a rate run at each rate of `--lrs`
    when it is given (a grid centred on `max_lr`, the range test's suggestion, for 'auto'), the
    arms that call `fit_one_cycle` at `--max-lr` or their own range test's peak.

    With `--grid-seeds N`, a grid runs on the first N seeds only; a best rate at its edge extends it
    by half a decade (at most `MAX_EXTENSIONS` times a side); then the chosen rate runs on every
    seed. Runs are ordered by seed, so that the first seed of every arm comes first, and within a
    seed the product's arms come first."""
    grid_seeds = getattr(config, "grid_seeds", None)
    todo = []
    for name in config.arm_list():
        arm = arms.get(name)
        grid = config.rate_grid(max_lr) if arm.grid_center is None else config.centered_grid(arm.grid_center)
        if arm.rate == "default":
            rate = arms.default_rate(arm.name, config.optimizer)
            todo += [Training(arm.name, rate, s) for s in range(config.seeds)]
        elif arm.rate == "own":
            todo += [Training(arm.name, config.max_lr, s) for s in range(config.seeds)]
        elif grid and arm.baseline and grid_seeds and grid_seeds < config.seeds:
            first = range(grid_seeds)
            extended, chosen = _grid_choice(runs or [], arm.name, grid, set(first), higher)
            todo += [Training(arm.name, rate, s) for rate in extended for s in first]
            if chosen is not None:
                todo += [Training(arm.name, chosen, s) for s in range(grid_seeds, config.seeds)]
        elif grid and arm.baseline:
            todo += [Training(arm.name, rate, s) for rate in grid for s in range(config.seeds)]
        else:
            todo += [Training(arm.name, arm.grid_center or max_lr, s) for s in range(config.seeds)]
    return sorted(todo, key=lambda t: (t.seed, arms.get(t.arm).family != "onecycle"))


def _needs_range_test(config):
    """True when some arm trains at the suggestion or around it ('auto' grid)."""
    centred = [a for a in map(arms.get, config.arm_list()) if a.needs_rate and a.grid_center is None]
    if config.lrs == "auto":
        return bool(centred)
    grid = config.rate_grid()
    return any(not (grid and a.baseline) for a in centred)


def _digest(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprint_of(dataset, config):
    """Digests of the data as trained on (every split, after standardizing) and of the model's
    source (the file of a PATH.py:FUNCTION model, else its name), stored in results.json: `--resume`
    refuses a run folder whose data or model changed since."""
    splits = (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val, dataset.x_test, dataset.y_test)
    model = config.model if isinstance(config.model, str) or config.model is None else repr(config.model)
    source = str(model)
    if isinstance(model, str) and ".py:" in model:
        file = model.rsplit(":", 1)[0]
        if os.path.isfile(file):
            with open(file, "rb") as f:
                source = f"{model}\n" + hashlib.sha256(f.read()).hexdigest()
    return {"data": _digest(*splits), "model": hashlib.sha256(source.encode()).hexdigest()}


def compare(config, resume=False, dataset=None):
    """`onecycle compare` / `onecycle train`: range test, every arm, rate and seed, results.json, report.
    `dataset`: a loaded `Dataset` (the Python API's arrays) instead of the config's."""
    dataset = dataset or config.load_data(0)
    model_description = models.describe(
        models.for_dataset(dataset, config.model)
    )  # a bad model: nothing written
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
            "max_lr": config.max_lr,
            "baselines": config.baseline_list(),
            "runs": [],
        }
    fingerprint = fingerprint_of(dataset, config)
    stored = results.get("fingerprint")
    if stored is not None and stored != fingerprint:
        changed = [key for key in fingerprint if stored.get(key) != fingerprint[key]]
        what = {"data": f"the data ({config.data or config.dataset})", "model": f"the model ({config.model})"}
        raise ConfigError(
            f"--resume: {', '.join(what.get(k, k) for k in changed)} differs from what {path!r} was trained on; "
            "resuming would mix two runs in one results.json (start a new run folder instead)"
        )
    results["fingerprint"] = fingerprint
    storage.write_json(os.path.join(path, "config.json"), to_dict(config))
    if results["max_lr"] is None and _needs_range_test(config):
        finder = range_test(config, dataset, verbose=_verbose(config) == 1)
        finder.save(os.path.join(path, "finder.json"))
        results["finder"] = {
            "suggestion": finder.suggest(config.method),
            "method": config.method,
            "diverged": finder.diverged,
        }
        results["max_lr"] = results["finder"]["suggestion"]
        storage.write_json(results_path, results)
    higher = dataset.task == "classification"
    shown = progress.Progress()
    while True:
        runs = summary.normalize_runs(results, config.optimizer)
        done = {(r["arm"], f"{r['lr']:.12g}", r["seed"]) for r in runs}
        planned = planned_runs(config, results["max_lr"] or 1.0, runs, higher)
        todo = [t for t in planned if t.key(config.optimizer) not in done]
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
    report.write(path, to_dict(config), results)
    return results, path
