"""`fit_one_cycle`: range test, 1cycle schedule sized to the real run, and `model.fit` in one call."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import keras
from keras.optimizers.schedules import LearningRateSchedule

from onecycle import checks, data, restore, suggestions
from onecycle import keras_internals as internals
from onecycle.callbacks import ScheduleLogger
from onecycle.finder import find_lr
from onecycle.groups import nominal_rate, rate_groups, rate_ratios
from onecycle.schedules import CYCLE_MOMENTUM, OneCycle, Piecewise


def _scheduled_momentum_name(optimizer):
    """The attribute that takes a momentum schedule on this optimizer, or None if it cannot.

    SGD built with momentum 0 has no momentum slots to cycle."""
    name = getattr(optimizer, "_momentum_name", None)  # set by onecycle.optimizers
    if name == "momentum" and isinstance(optimizer.momentum, float) and optimizer.momentum == 0:
        return None
    return name


def _check_cycle_momentum(value):
    if value is None or value is False:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(
            f"Argument `cycle_momentum` must be a pair (high, low) or None. Received: cycle_momentum={value!r}"
        )
    return tuple(value)


def install_schedule(
    model: keras.Model,
    learning_rate: float | LearningRateSchedule | Sequence,
    momentum: float | LearningRateSchedule | Sequence | None = None,
) -> None:
    """Put a learning-rate schedule (and a momentum schedule, where the optimizer takes one) in the
    compiled model's optimizer, so that the next `fit` applies them from the current step.

    With a `MultiOptimizer`, pass one of each per rate group (see `onecycle.groups.rate_groups`:
    the default optimizer first, then the others), as lists."""
    checks.compiled_model(model)
    groups = rate_groups(model.optimizer)
    rates = _per_group("learning_rate", learning_rate, len(groups))
    momenta = _per_group("momentum", momentum, len(groups))
    for rate, value in zip(rates, momenta):
        checks.schedule_or_float("learning_rate", rate)
        if value is not None:
            checks.schedule_or_float("momentum", value, high=1.0)
    for group, rate, value in zip(groups, rates, momenta):
        _install(group.optimizer, rate, value)
    model.train_function = None  # the traced step captured the old learning-rate object


def _per_group(name, value, count):
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(
                f"Argument `{name}` must hold one value per rate group ({count}). Received: {len(value)} values"
            )
        return list(value)
    if count > 1 and value is not None:
        raise ValueError(
            f"Argument `{name}` must be a list of one value per rate group for a MultiOptimizer "
            f"({count} groups). Received: {name}={value!r}"
        )
    return [value] * count


def _install(optimizer, learning_rate, momentum):
    internals.install_learning_rate(optimizer, learning_rate)
    name = _scheduled_momentum_name(optimizer)
    if momentum is not None and name is None:
        warnings.warn(
            f"{type(optimizer).__name__} cannot take a momentum schedule; its momentum stays constant. "
            "Use onecycle.optimizers.SGD (with momentum > 0), Adam or AdamW to cycle it.",
            stacklevel=3,
        )
    elif momentum is not None:
        setattr(optimizer, name, momentum)


def fit_one_cycle(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    batch_size: int = 32,
    max_lr: float | Sequence[float] | None = None,
    cycle_momentum: tuple[float, float] | None = CYCLE_MOMENTUM,
    suggestion: str = suggestions.DEFAULT_METHOD,
    find_lr_kwargs: dict | None = None,
    schedule_kwargs: dict | None = None,
    steps_per_epoch: int | None = None,
    validation_split: float = 0.0,
    callbacks: list[keras.callbacks.Callback] | None = None,
    guard: bool | str = "auto",
    **fit_kwargs,
) -> keras.callbacks.History:
    """Train a compiled model with the 1cycle policy, finding the maximum rate first if not given.

    Runs `find_lr` (model restored afterwards) when `max_lr` is None and takes its `suggestion`;
    builds a `OneCycle` over the real number of optimizer steps (`epochs * steps_per_epoch`, counting
    the partial last batch, every batch under gradient accumulation); puts it, and the cyclical
    momentum `cycle_momentum=(high, low)` where the optimizer is an `onecycle.optimizers` SGD with
    momentum, Adam or AdamW, into the model's optimizer; calls `model.fit`. Returns the `History`,
    with the range test's `LRFinderResult` as `history.lr_finder` (None when `max_lr` was given) and
    the schedule as `history.schedule`. Per-epoch logs carry `learning_rate` and `momentum`.

    With a `keras.optimizers.MultiOptimizer` every sub-optimizer gets its own `OneCycle` (and
    cyclical momentum): `max_lr` (or the range test's suggestion) is the peak of the sub-optimizer
    with the largest compiled rate, and the others keep their ratios to it; or give `max_lr` as a
    list, one peak per rate group (`onecycle.groups.rate_groups` order: the default optimizer first).
    `history.schedules` holds every group's schedule; the logs carry `learning_rate/PATTERN` and
    `momentum/PATTERN` for the groups other than the default.

    The defaults: `OneCycle`'s own curve, the "edge" suggestion, momentum 0.95-0.85, no weight
    decay. The first recipe study compared the curve, momentum, weight decay and final rate with
    their alternatives on several tasks, and none did better. The image study (RECIPE.md) made
    "edge" the default suggestion in place of "minimum": of the rules it compared on the same
    range-test curves it moved least from seed to seed (largest / smallest per-seed peak at most
    2.3 on digits, Fashion-MNIST and CIFAR-10, against 9.2 for "minimum"). It then compared SGD,
    Adam and AdamW with this curve, a cosine one and a linear decay to near zero, each at the edge
    suggestion of its own range test: Adam with this curve ranked first (it loses only to
    ScheduleFreeAdamW's defaults on Fashion-MNIST), so compile the model with
    `onecycle.optimizers.Adam()` (`beta_1` then cycles 0.95-0.85 like momentum).

    **The guard** (`guard="auto"`: on for arrays of at most `GUARD_MAX_SAMPLES` samples on one
    device when `max_lr` is not given; True: on for any arrays on one device; False: off; never with
    an explicit `max_lr`, `validation_split`, `sample_weight`, `class_weight` or `steps_per_epoch`). On
    small tables the range test's peak can be far too high (the second recipe study, RECIPE.md). So on
    small data `fit_one_cycle` checks itself first: it holds out the last 20% of `x` (as
    `validation_split` would), trains 1cycle and the rates the model was compiled with held constant
    (each rate group its own: a `MultiOptimizer` keeps its ratios) on the rest from the same initial
    weights, and keeps 1cycle unless the constant rates score better on the held-out part by the first
    compiled metric whose direction its name tells (accuracy, AUC, ... higher; errors lower; a tie
    keeps 1cycle), or by the loss when there is none; then it trains the one kept on all of `x` from
    the same initial weights and returns its `History`. **Cost**: three trainings of `epochs` epochs
    (two on 80% of `x`, one on all of it) instead of one. When the constant rates win it warns with
    both scores. `history.guard` holds both scores, both losses, what it judged by and the choice
    (None when the guard did not run). It never changes an explicit `max_lr`: with one, `guard="auto"`
    does not run and `guard=True` is an error.
    """
    checks.compiled_model(model)
    epochs = checks.positive_int("epochs", epochs)
    batch_size = checks.positive_int("batch_size", batch_size)
    cycle_momentum = _check_cycle_momentum(cycle_momentum)
    checks.one_of("suggestion", suggestion, tuple(suggestions.METHODS))
    if guard not in (True, False, "auto"):
        raise ValueError(f"Argument `guard` must be True, False or 'auto'. Received: guard={guard!r}")
    validation_split = checks.float_in("validation_split", validation_split, 0.0, 1.0, high_open=True)
    if steps_per_epoch is not None:
        checks.positive_int("steps_per_epoch", steps_per_epoch)
    data.check_arrays(model, x, y, fit_kwargs.get("sample_weight"))
    data.check_validation_data(model, fit_kwargs.get("validation_data"))
    finder, explicit = None, max_lr is not None
    if explicit and guard is True:
        raise ValueError(
            "Argument `guard` chooses the rate and never overrides an explicit `max_lr`; pass one or the other. "
            f"Received: guard=True, max_lr={max_lr!r}"
        )
    batches = _batches_per_epoch(x, batch_size, steps_per_epoch, validation_split)
    if max_lr is None:
        finder_kwargs = dict(find_lr_kwargs or {})
        if "verbose" in fit_kwargs and fit_kwargs["verbose"] != "auto":  # the range test follows fit's
            finder_kwargs.setdefault("verbose", fit_kwargs["verbose"])
        finder = find_lr(model, x, y, batch_size=batch_size, **finder_kwargs)
        max_lr = finder.suggest(suggestion)
    peaks = _peaks(max_lr, rate_groups(model.optimizer))
    schedules, rates, momenta = [], [], []
    for group, peak in zip(rate_groups(model.optimizer), peaks):
        schedule = OneCycle(peak, epochs * batches, **(schedule_kwargs or {}))
        momentum = schedule.momentum(*cycle_momentum) if cycle_momentum else None
        start_step = internals.current_step(group.optimizer)
        schedules.append(schedule)
        rates.append(schedule.shifted(start_step))
        momenta.append(momentum and momentum.shifted(start_step))
    choice = None
    constant = [_constant(nominal_rate(g.optimizer)) for g in rate_groups(model.optimizer)]
    if not explicit and _guarded(guard, model, x, steps_per_epoch, validation_split, fit_kwargs):
        choice = _guard(model, x, y, epochs, batch_size, rates, momenta, constant, fit_kwargs)
    if choice is None or choice["chose"] == "onecycle":
        install_schedule(model, rates, momenta)
    else:
        install_schedule(model, constant, [None] * len(rates))
    history = model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size if data.is_array_like(x) else None,
        validation_split=validation_split,
        steps_per_epoch=steps_per_epoch,
        callbacks=[ScheduleLogger(), *(callbacks or [])],
        **fit_kwargs,
    )
    history.lr_finder, history.schedule, history.schedules = finder, schedules[0], schedules
    history.guard = choice
    return history


def _batches_per_epoch(x, batch_size, steps_per_epoch, validation_split):
    """The optimizer steps of one epoch of `model.fit`, known before any training step."""
    if steps_per_epoch is not None:
        return steps_per_epoch
    batches = data.steps_per_epoch(x, batch_size=batch_size, validation_split=validation_split)
    if batches is None:
        raise ValueError(
            "Argument `steps_per_epoch` is needed: the number of batches in `x` is unknown. Received: steps_per_epoch=None"
        )
    if batches == 0:
        size = f"{data.num_samples(x)} samples" if data.is_array_like(x) else "0 batches"
        raise ValueError(
            f"Argument `x` leaves no batch to train on. Received: x with {size}, validation_split={validation_split}"
        )
    return batches


GUARD_MAX_SAMPLES = 10_000
GUARD_HOLDOUT = 0.2


def _distributed(model):
    """True under a `tf.distribute` strategy with several replicas or a `keras.distribution`."""
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is not None and getattr(strategy, "num_replicas_in_sync", 1) > 1:
        return True
    return keras.distribution.distribution() is not None


def _guarded(guard, model, x, steps_per_epoch, validation_split, fit_kwargs):
    if guard is False or not data.is_array_like(x) or steps_per_epoch is not None or _distributed(model):
        return False
    if validation_split or fit_kwargs.get("sample_weight") is not None or fit_kwargs.get("class_weight"):
        return False  # the guard carves its own hold-out; it does not stack with these
    samples = data.num_samples(x)
    if samples < 10:
        return False
    return guard is True or samples <= GUARD_MAX_SAMPLES


def _guard(model, x, y, epochs, batch_size, rates, momenta, constant, fit_kwargs):
    """1cycle against the compiled rates held constant on a hold-out of `x`, judged by the first
    compiled metric (the loss when there is none); the model, its optimizer and the global random
    streams are put back as they were."""
    samples = data.num_samples(x)
    cut = samples - max(1, int(round(GUARD_HOLDOUT * samples)))
    train = data.rows(x, 0, cut), data.rows(y, 0, cut)
    held = data.rows(x, cut, samples), data.rows(y, cut, samples)
    # The optimizer's slots exist before the snapshot, so that it restores them.
    restore.build(model, data.rows(x, 0, 1))
    snapshot, random_state = restore.Snapshot(model), restore.global_random_state()
    groups = rate_groups(model.optimizer)
    names = [_scheduled_momentum_name(g.optimizer) for g in groups]
    momentum_before = [getattr(g.optimizer, n) if n else None for g, n in zip(groups, names)]

    def put_back():
        snapshot.restore()
        for group, name, value in zip(groups, names, momentum_before):
            if name:
                setattr(group.optimizer, name, value)

    scores = {}
    quiet = {k: v for k, v in fit_kwargs.items() if k not in ("verbose", "validation_data", "callbacks")}
    try:
        for name, (learning_rate, momentum) in (
            ("onecycle", (rates, momenta)),
            ("constant", (constant, [None] * len(rates))),
        ):
            put_back()
            install_schedule(model, learning_rate, momentum)
            model.fit(*train, epochs=epochs, batch_size=batch_size, verbose=0, **quiet)
            scores[name] = model.evaluate(*held, batch_size=max(batch_size, 256), verbose=0, return_dict=True)
    finally:
        put_back()
        restore.restore_global_random_state(random_state)
    metric, higher = judged_by(scores["onecycle"])
    values = {name: _finite(float(s[metric]), higher) for name, s in scores.items()}
    worse = values["constant"] <= values["onecycle"] if higher else values["constant"] >= values["onecycle"]
    chose = "onecycle" if worse else "constant"  # a tie keeps 1cycle
    rate = constant[0].peak_value
    if chose == "constant":
        warnings.warn(
            f"fit_one_cycle's guard: on the last {GUARD_HOLDOUT:.0%} of x, the compiled rate held constant "
            f"({rate:g}) had a {'higher' if higher else 'lower'} {metric} ({values['constant']:.6g}) than 1cycle "
            f"({values['onecycle']:.6g}); training with the constant rate instead (pass guard=False to keep 1cycle)",
            stacklevel=3,
        )
    return {
        "chose": chose,
        "judged_by": metric,
        "onecycle_loss": float(scores["onecycle"]["loss"]),
        "constant_loss": float(scores["constant"]["loss"]),
        f"onecycle_{metric}": values["onecycle"],
        f"constant_{metric}": values["constant"],
        "constant_rate": rate,
        "holdout": GUARD_HOLDOUT,
    }


# Keras' metric names by the direction in which they improve; a compiled metric named by neither
# (a custom one) leaves the guard judging by the loss.
_HIGHER_IS_BETTER = ("accuracy", "acc", "auc", "precision", "recall", "f1", "iou", "r2", "fbeta")
_LOWER_IS_BETTER = (
    "error",
    "mse",
    "mae",
    "mape",
    "msle",
    "crossentropy",
    "hinge",
    "logcosh",
    "poisson",
    "loss",
)


def judged_by(scores: dict) -> tuple[str, bool]:
    """The key of `model.evaluate(..., return_dict=True)` the guard judges by, and whether higher is
    better: the first compiled metric whose direction its name tells, else the loss."""
    for key in scores:
        name = key.lower()
        if key == "loss":
            continue
        if any(word in name for word in _HIGHER_IS_BETTER):
            return key, True
        if any(word in name for word in _LOWER_IS_BETTER):
            return key, False
        return "loss", False
    return "loss", False


def _finite(value, higher):
    if value == value and abs(value) != float("inf"):
        return value
    return -float("inf") if higher else float("inf")


def _constant(rate):
    """A rate held constant, as a schedule: installing it leaves the optimizer's variables as they
    are (a float would add a learning-rate variable, and a saved model would no longer load)."""
    return Piecewise([1.0], [rate, rate], ["linear"], name="Constant")


def _peaks(max_lr, groups):
    """One peak per rate group: the list given, or `max_lr` for the group with the largest rate and
    the others in proportion."""
    if isinstance(max_lr, (list, tuple)):
        if len(max_lr) != len(groups):
            raise ValueError(
                f"Argument `max_lr` must hold one peak per rate group ({len(groups)}). Received: max_lr={max_lr!r}"
            )
        return [checks.positive_float("max_lr", v) for v in max_lr]
    max_lr = checks.positive_float("max_lr", max_lr)
    ratios = rate_ratios(groups) if len(groups) > 1 else [1.0]
    return [max_lr * r for r in ratios]
