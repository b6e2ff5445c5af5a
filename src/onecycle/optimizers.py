"""Keras optimizers whose momentum (SGD) or `beta_1` (Adam, AdamW) may be a schedule.

Keras compiles `momentum` and `beta_1` into the train step as Python floats, so changing them from a
callback is silently ignored under jit. Here a schedule is evaluated from `optimizer.iterations` inside
the update, like a learning-rate schedule, so cyclical momentum really changes the updates on every
backend. With a float they are Keras' own optimizers, unchanged.

Schedules read the batch counter (`keras_internals.step_counter`), the step Keras feeds learning-rate
schedules, so momentum and learning rate stay in phase under gradient accumulation too.
"""

from __future__ import annotations

import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

from onecycle import checks
from onecycle.keras_internals import ScheduledMomentumStep, adam_slots, sgd_momentum_slot, step_counter


def _check_momentum(name, value):
    if isinstance(value, LearningRateSchedule):
        return value
    return checks.float_in(name, value, 0.0, 1.0, high_open=True)


def _serialize(value):
    return keras.saving.serialize_keras_object(value) if isinstance(value, LearningRateSchedule) else value


def _deserialize(config, key, custom_objects):
    if isinstance(config.get(key), dict):
        config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
    return config


def inner_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer that holds the rate and the step: itself, or the one a `LossScaleOptimizer` wraps."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def with_rate(optimizer: keras.optimizers.Optimizer, learning_rate) -> keras.optimizers.Optimizer:
    """A new optimizer of `optimizer`'s class and config (fresh slots and step, its own name) at
    `learning_rate` (a float or a schedule)."""
    config = {**optimizer.get_config(), "learning_rate": learning_rate, "name": None}
    return optimizer.__class__.from_config(config)


def current_momentum(optimizer: keras.optimizers.Optimizer) -> float | None:
    """The momentum (SGD) or `beta_1` (Adam) that `optimizer` applies at its current step, or None."""
    optimizer = inner_optimizer(optimizer)
    for name in ("momentum", "beta_1"):
        value = getattr(optimizer, name, None)
        if isinstance(value, LearningRateSchedule):
            return float(ops.convert_to_numpy(value(step_counter(optimizer))))
        if value is not None:
            return float(value)
    return None


@keras.saving.register_keras_serializable(package="onecycle")
class SGD(ScheduledMomentumStep, keras.optimizers.SGD):
    """`keras.optimizers.SGD` whose `momentum` may be a schedule, such as `OneCycle(...).momentum()`.

    The update is Keras' (plain or Nesterov) with the momentum read at the current step.
    """

    _momentum_name = "momentum"

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float | LearningRateSchedule = 0.0,
        nesterov: bool = False,
        **kwargs,
    ):
        momentum = _check_momentum("momentum", momentum)
        learning_rate = checks.schedule_or_float("learning_rate", learning_rate)
        scheduled = isinstance(momentum, LearningRateSchedule)
        super().__init__(
            learning_rate=learning_rate, momentum=0.0 if scheduled else momentum, nesterov=nesterov, **kwargs
        )
        self.momentum = momentum

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(self.momentum, LearningRateSchedule):
            return super().update_step(gradient, variable, learning_rate)
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = ops.cast(self._step_momentum, variable.dtype)
        m = sgd_momentum_slot(self, variable)
        step = ops.multiply(gradient, learning_rate)
        self.assign(m, ops.subtract(ops.multiply(m, momentum), step))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(m, momentum), step))
        else:
            self.assign_add(variable, m)

    def get_config(self):
        return {**super().get_config(), "momentum": _serialize(self.momentum)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return super().from_config(_deserialize(dict(config), "momentum", custom_objects), custom_objects)


@keras.saving.register_keras_serializable(package="onecycle")
class Adam(ScheduledMomentumStep, keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose `beta_1` may be a schedule, such as `OneCycle(...).momentum()`.

    With a scheduled `beta_1` the bias correction uses the current value, `1 - beta_1 ** t`, as
    PyTorch's Adam does under `OneCycleLR(cycle_momentum=True)`.
    """

    _momentum_name = "beta_1"

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float | LearningRateSchedule = 0.9,
        **kwargs,
    ):
        beta_1 = _check_momentum("beta_1", beta_1)
        learning_rate = checks.schedule_or_float("learning_rate", learning_rate)
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(self.beta_1, LearningRateSchedule):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        local_step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self._step_momentum, dtype)
        # convert_to_tensor, not cast: cast() would round the Python float to float32 first
        beta_2 = ops.convert_to_tensor(self.beta_2, dtype)
        m, v, v_hat = adam_slots(self, variable)
        alpha = lr * ops.sqrt(1 - ops.power(beta_2, local_step)) / (1 - ops.power(beta_1, local_step))
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - beta_2))
        if self.amsgrad:
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))

    def get_config(self):
        return {**super().get_config(), "beta_1": _serialize(self.beta_1)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return super().from_config(_deserialize(dict(config), "beta_1", custom_objects), custom_objects)


@keras.saving.register_keras_serializable(package="onecycle")
class AdamW(Adam):
    """`keras.optimizers.AdamW` (decoupled weight decay) whose `beta_1` may be a schedule."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float | LearningRateSchedule = 0.9,
        **kwargs,
    ):
        weight_decay = checks.float_in("weight_decay", weight_decay, 0.0, float("inf"), high_open=True)
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, weight_decay=weight_decay, **kwargs)
