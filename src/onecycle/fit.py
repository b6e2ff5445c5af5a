"""`fit_one_cycle`: range test, 1cycle schedule sized to the real run, and `model.fit` in one call."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import keras
from keras.optimizers.schedules import LearningRateSchedule

from onecycle import checks, data, suggestions
from onecycle.callbacks import ScheduleLogger
from onecycle.finder import find_lr
from onecycle.groups import rate_groups, rate_ratios
from onecycle.schedules import CYCLE_MOMENTUM, OneCycle


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


def _set_rate(optimizer, rate):
    """Keras' own setter for a schedule: it untracks the rate variable it replaces, so that the
    optimizer saved to `.keras` has the variables its config rebuilds (else Keras skips loading the
    optimizer's state, step count included, and the cycle restarts)."""
    if isinstance(rate, LearningRateSchedule) or callable(rate):
        optimizer.learning_rate = rate
    elif isinstance(optimizer._learning_rate, keras.Variable):
        optimizer._learning_rate.assign(rate)
    else:  # a float where there was a schedule: a tracked variable, as Keras' constructor makes
        variable = keras.Variable(
            float(rate),
            name="learning_rate",
            dtype=keras.config.floatx(),
            trainable=False,
            aggregation="only_first_replica",
        )
        optimizer._track_variable(variable)
        optimizer._learning_rate = variable


def _install(optimizer, learning_rate, momentum):
    _set_rate(optimizer, learning_rate)
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

    The defaults (`OneCycle`'s own curve, the "minimum" suggestion, momentum 0.95-0.85, no weight
    decay) were compared with a cosine curve, the other suggestion rules, constant momentum, weight
    decay and a higher final rate on several tasks; none did better (the recipe study, RECIPE.md).
    """
    checks.compiled_model(model)
    epochs = checks.positive_int("epochs", epochs)
    batch_size = checks.positive_int("batch_size", batch_size)
    cycle_momentum = _check_cycle_momentum(cycle_momentum)
    checks.one_of("suggestion", suggestion, tuple(suggestions.METHODS))
    validation_split = checks.float_in("validation_split", validation_split, 0.0, 1.0, high_open=True)
    if steps_per_epoch is not None:
        checks.positive_int("steps_per_epoch", steps_per_epoch)
    data.check_arrays(model, x, y, fit_kwargs.get("sample_weight"))
    data.check_validation_data(model, fit_kwargs.get("validation_data"))
    finder = None
    if max_lr is None:
        finder_kwargs = dict(find_lr_kwargs or {})
        if "verbose" in fit_kwargs and fit_kwargs["verbose"] != "auto":  # the range test follows fit's
            finder_kwargs.setdefault("verbose", fit_kwargs["verbose"])
        finder = find_lr(model, x, y, batch_size=batch_size, **finder_kwargs)
        max_lr = finder.suggest(suggestion)
    peaks = _peaks(max_lr, rate_groups(model.optimizer))
    batches = (
        steps_per_epoch
        if steps_per_epoch is not None
        else data.steps_per_epoch(x, batch_size=batch_size, validation_split=validation_split)
    )
    if batches is None:
        raise ValueError(
            "Argument `steps_per_epoch` is needed: the number of batches in `x` is unknown. Received: steps_per_epoch=None"
        )
    batches = checks.positive_int("steps_per_epoch", batches)
    schedules, rates, momenta = [], [], []
    for group, peak in zip(rate_groups(model.optimizer), peaks):
        schedule = OneCycle(peak, epochs * batches, **(schedule_kwargs or {}))
        momentum = schedule.momentum(*cycle_momentum) if cycle_momentum else None
        start_step = int(keras.ops.convert_to_numpy(group.optimizer._iterations))
        schedules.append(schedule)
        rates.append(schedule.shifted(start_step))
        momenta.append(momentum and momentum.shifted(start_step))
    install_schedule(model, rates, momenta)
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
    return history


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
