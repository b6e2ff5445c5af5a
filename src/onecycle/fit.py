"""`fit_one_cycle`: range test, 1cycle schedule sized to the real run, and `model.fit` in one call."""

from __future__ import annotations

import warnings
from typing import Any

import keras
from keras.optimizers.schedules import LearningRateSchedule

from onecycle import checks, data, suggestions
from onecycle.callbacks import ScheduleLogger
from onecycle.finder import find_lr
from onecycle.optimizers import inner_optimizer
from onecycle.schedules import OneCycle


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
    learning_rate: float | LearningRateSchedule,
    momentum: float | LearningRateSchedule | None = None,
) -> None:
    """Put a learning-rate schedule (and a momentum schedule, where the optimizer takes one) in the
    compiled model's optimizer, so that the next `fit` applies them from the current step."""
    checks.compiled_model(model)
    checks.schedule_or_float("learning_rate", learning_rate)
    if momentum is not None:
        checks.schedule_or_float("momentum", momentum, high=1.0)
    optimizer = inner_optimizer(model.optimizer)
    optimizer._learning_rate = learning_rate
    name = _scheduled_momentum_name(optimizer)
    if momentum is not None and name is None:
        warnings.warn(
            f"{type(optimizer).__name__} cannot take a momentum schedule; its momentum stays constant. "
            "Use onecycle.optimizers.SGD (with momentum > 0), Adam or AdamW to cycle it.",
            stacklevel=2,
        )
    elif momentum is not None:
        setattr(optimizer, name, momentum)
    model.train_function = None  # the traced step captured the old learning-rate object


def fit_one_cycle(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    batch_size: int = 32,
    max_lr: float | None = None,
    cycle_momentum: tuple[float, float] | None = (0.95, 0.85),
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
        if (
            "verbose" in fit_kwargs and fit_kwargs["verbose"] != "auto"
        ):  # the range test follows fit's verbosity
            finder_kwargs.setdefault("verbose", fit_kwargs["verbose"])
        finder = find_lr(model, x, y, batch_size=batch_size, **finder_kwargs)
        max_lr = finder.suggest(suggestion)
    max_lr = checks.positive_float("max_lr", max_lr)
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
    schedule = OneCycle(max_lr, epochs * batches, **(schedule_kwargs or {}))
    momentum = schedule.momentum(*cycle_momentum) if cycle_momentum else None
    start_step = int(keras.ops.convert_to_numpy(inner_optimizer(model.optimizer)._iterations))
    install_schedule(model, schedule.shifted(start_step), momentum and momentum.shifted(start_step))
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
    history.lr_finder, history.schedule = finder, schedule
    return history
