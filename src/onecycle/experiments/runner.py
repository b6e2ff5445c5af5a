"""Runs the commands of the harness: range test, training runs, comparisons. Uses the public library API."""

import math
import os
import shutil
import sys
import time
import warnings

import keras

import onecycle
from onecycle.experiments import arms, datasets, models, report, storage, summary
from onecycle.experiments.config import ConfigError, to_dict


class DivergenceRecorder(keras.callbacks.Callback):
    """Stops training at the first non-finite batch loss and remembers the optimizer step."""

    def __init__(self):
        super().__init__()
        self.step = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            self.model.stop_training = True


class EpochLog(keras.callbacks.Callback):
    """Keeps one record per finished epoch in `path` (JSON, written atomically), wall time included.

    Placed before `BackupAndRestore`, so an epoch is logged before its backup is written; on resume,
    records past the restored epoch are dropped and the clock continues from the last record.
    """

    def __init__(self, path, metric):
        super().__init__()
        self.path, self.metric = path, metric
        self.epochs = storage.read_json(path) if os.path.exists(path) else []
        self.resumed = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if not self.resumed:
            self.resumed = True
            self.epochs = self.epochs[:epoch]
            self.offset = self.epochs[-1]["wall_time"] if self.epochs else 0.0

    def on_epoch_end(self, epoch, logs=None):
        logs["wall_time"] = self.offset + time.perf_counter() - self.start
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


def compile_for(model, dataset, optimizer):
    """Compile with the loss and metric of the dataset's task (cross-entropy and accuracy, or MSE and RMSE)."""
    if dataset.task == "regression":
        model.compile(optimizer, "mse", metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    else:
        model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])


def seeded_model(dataset, optimizer, seed):
    """The dataset's model with the initial weights of `seed`, compiled with `optimizer`. The global
    seed is set too, so the data order of the next `fit` follows `seed`: runs of one seed pair."""
    keras.utils.set_random_seed(seed)
    model = models.for_dataset(dataset)
    compile_for(model, dataset, optimizer)
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
    model = seeded_model(dataset, optimizer, config.seed)
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
    dataset = datasets.load(config.dataset, config.data_dir, config.subset, config.seed)
    path = prepare_run_dir(config)
    storage.write_json(os.path.join(path, "config.json"), to_dict(config))
    result = range_test(config, dataset, verbose=1)
    result_path = os.path.join(path, "finder.json")
    result.save(result_path)
    report.save_finder_plot(result, os.path.join(path, "finder.png"), config.method)
    return result, path


def _loads(model, path):
    """True when every weight and optimizer variable (step count included) loads from `path`.

    Keras only warns when it skips a layer's or the optimizer's variables; a backup that loads in
    part would restart the schedule from step 0, so it counts as not loadable."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(path)
    except Exception:  # h5py and Keras raise many kinds for a damaged file
        return False
    return not any("Skipping variable loading" in str(w.message) for w in caught)


def _json_loads(path):
    """True when `path` is absent or holds valid JSON (Keras writes it in place, not atomically)."""
    if not os.path.exists(path):
        return True
    try:
        storage.read_json(path)
        return True
    except storage.CorruptRunError:
        return False


def _check_backup(model, backup_dir):
    """A backup that exists must load. A run killed while writing it leaves the previous backup
    (`double_checkpoint`), which then takes its place; if neither loads, the run is reported as
    corrupt, never silently restarted from scratch."""
    weights = os.path.join(backup_dir, "latest.weights.h5")
    metadata = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(weights):
        return
    model.optimizer.build(model.trainable_variables)
    if _loads(model, weights) and _json_loads(metadata):
        return
    previous, candidate = f"{weights}.bkp", os.path.join(backup_dir, "previous.weights.h5")
    if os.path.exists(previous):
        shutil.copyfile(previous, candidate)  # Keras only loads files named *.weights.h5
    if not (os.path.exists(candidate) and _loads(model, candidate)):
        raise storage.CorruptRunError(
            f"backup {weights} cannot be loaded and has no loadable previous copy; delete {backup_dir} to restart this run"
        )
    os.replace(candidate, weights)
    if os.path.exists(f"{metadata}.bkp"):
        shutil.copyfile(f"{metadata}.bkp", metadata)
    elif os.path.exists(metadata):
        os.remove(metadata)


def backup_dir(run_dir, label, seed):
    return os.path.join(run_dir, "backups", f"{label}-seed{seed}")


def train_one(dataset, config, arm, seed, rate, verbose, run_dir, label=None):
    """One training run of `arm` at `rate` (ignored by arms that pick their own), resumable from its
    backup in `run_dir`; returns its record for results.json."""
    steps_per_epoch = math.ceil(len(dataset.x_train) / config.batch_size)
    plan = arms.plan(
        arm, optimizer=config.optimizer, rate=rate, epochs=config.epochs, steps_per_epoch=steps_per_epoch
    )
    model = seeded_model(dataset, plan.optimizer, seed)
    backups = backup_dir(run_dir, label or arm, seed)
    _check_backup(model, backups)
    os.makedirs(backups, exist_ok=True)
    divergence, log = DivergenceRecorder(), EpochLog(os.path.join(backups, "epochs.json"), dataset.metric)
    model.fit(
        dataset.x_train,
        dataset.y_train,
        validation_data=(dataset.x_val, dataset.y_val),
        epochs=plan.epochs,
        batch_size=config.batch_size,
        verbose=verbose,
        callbacks=[
            onecycle.ScheduleLogger(),
            divergence,
            log,
            keras.callbacks.BackupAndRestore(backups, double_checkpoint=True),
        ],
    )
    test = model.evaluate(dataset.x_test, dataset.y_test, batch_size=256, verbose=0, return_dict=True)[
        dataset.metric
    ]
    return {
        "arm": arm,
        "lr": arms.rate_of(arm, config.optimizer, rate),
        "seed": seed,
        "planned_epochs": plan.epochs,
        "steps_per_epoch": steps_per_epoch,
        "epochs": log.epochs,
        "test_metric": test if math.isfinite(test) else None,
        "diverged_step": divergence.step,
        "learning_rate": storage.describe_value(plan.learning_rate),
        "momentum": storage.describe_value(plan.momentum),
    }


def _verbose(config):
    if config.verbose is not None:
        return config.verbose
    return 1 if sys.stdout.isatty() else 2


def planned_runs(config, max_lr):
    """(arm, rate, seed) of every run: the baseline arms that take a rate run at each rate of
    `--lrs` when it is given, the onecycle arms at `max_lr` (the suggestion unless given)."""
    grid = config.rate_grid(max_lr)
    todo = []
    for name in config.arm_list():
        arm = arms.get(name)
        if not arm.needs_rate:
            rates = [arms.KERAS_DEFAULT_LR[config.optimizer]]
        elif grid and arm.baseline:
            rates = grid
        else:
            rates = [max_lr]
        todo += [(arm.name, rate, seed) for rate in rates for seed in range(config.seeds)]
    return todo


def _needs_range_test(config):
    """True when some arm trains at the suggestion or around it ('auto' grid)."""
    if config.lrs == "auto":
        return any(arms.get(a).needs_rate for a in config.arm_list())
    grid = config.rate_grid()
    return any(arms.get(a).needs_rate and not (grid and arms.get(a).baseline) for a in config.arm_list())


def compare(config, resume=False):
    """`onecycle compare` / `onecycle train`: range test, every arm, rate and seed, results.json, report."""
    dataset = datasets.load(config.dataset, config.data_dir, config.subset, 0)
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
            "model": models.describe(models.for_dataset(dataset)),
            "finder": None,
            "max_lr": config.max_lr,
            "baselines": config.baseline_list(),
            "runs": [],
        }
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
    runs = summary.normalize_runs(results, config.optimizer)
    done = {(r["arm"], f"{r['lr']:.12g}", r["seed"]) for r in runs}
    todo = [
        t for t in planned_runs(config, results["max_lr"] or 1.0) if (t[0], f"{t[1]:.12g}", t[2]) not in done
    ]
    rates_per_arm = {}
    for arm, rate, _ in planned_runs(config, results["max_lr"] or 1.0):
        rates_per_arm.setdefault(arm, set()).add(rate)
    for i, (arm, rate, seed) in enumerate(todo, start=len(done) + 1):
        label = f"{arm}@{rate:.4g}" if len(rates_per_arm[arm]) > 1 else arm
        print(f"[{i}/{len(done) + len(todo)}] {config.dataset}: arm {label}, seed {seed}", flush=True)
        results["runs"].append(train_one(dataset, config, arm, seed, rate, _verbose(config), path, label))
        storage.write_json(results_path, results)
        shutil.rmtree(backup_dir(path, label, seed), ignore_errors=True)
    shutil.rmtree(os.path.join(path, "backups"), ignore_errors=True)
    report.write(path, to_dict(config), results)
    return results, path
