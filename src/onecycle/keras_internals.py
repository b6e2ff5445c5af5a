"""Every private attribute of Keras (and TensorFlow) that onecycle touches, and nothing else.

Keras has no public way to read an optimizer's rate object as stored (a variable or a schedule), to
put one back unchanged, to reset the step counter, to list a `MultiOptimizer`'s map, to reach an
optimizer's slots, or to evaluate a schedule once per step inside the compiled update. Each of these
is one function here; the rest of the package imports them, so that a Keras release that moves one
breaks this module only (`tests/test_keras_internals.py` checks every one on the installed Keras,
and that no other module of `src/` touches a private attribute).
"""

from __future__ import annotations

import keras
from keras.optimizers.schedules import LearningRateSchedule

try:  # the base class of every backend's variable: `Variable` since Keras 3.7, `KerasVariable` before
    from keras.src.backend.common.variables import KerasVariable as _VariableBase
except ImportError:
    from keras.src.backend.common.variables import Variable as _VariableBase


def is_variable(value) -> bool:
    """Whether `value` is a Keras variable of any backend. `isinstance(value, keras.Variable)` says
    no to the variables optimizers make on Keras 3.5, where `keras.Variable` is a subclass of them."""
    return isinstance(value, _VariableBase)


def learning_rate(optimizer: keras.optimizers.Optimizer):
    """The rate object as the optimizer stores it: a `keras.Variable` or a schedule."""
    return optimizer._learning_rate


def swap_learning_rate(optimizer: keras.optimizers.Optimizer, rate) -> None:
    """Put `rate` in place of the stored rate object without changing what the optimizer tracks: for
    a swap that is put back (the range test), and to put back what `learning_rate` returned."""
    optimizer._learning_rate = rate


def install_learning_rate(optimizer: keras.optimizers.Optimizer, rate) -> None:
    """Install a rate for good. A schedule goes through Keras' own setter, which untracks the rate
    variable it replaces, so that a model saved to `.keras` holds the variables its config rebuilds
    (else Keras skips loading the optimizer's state, step count included, and a cycle restarts). A
    float is assigned to the rate variable, or becomes a tracked variable as Keras' constructor makes
    one when a schedule was there."""
    if isinstance(rate, LearningRateSchedule) or callable(rate):
        optimizer.learning_rate = rate
    elif is_variable(optimizer._learning_rate):
        optimizer._learning_rate.assign(rate)
    else:
        variable = keras.Variable(
            float(rate),
            name="learning_rate",
            dtype=keras.config.floatx(),
            trainable=False,
            aggregation="only_first_replica",
        )
        optimizer._track_variable(variable)
        optimizer._learning_rate = variable


def step_counter(optimizer: keras.optimizers.Optimizer) -> keras.Variable:
    """The batch counter Keras feeds learning-rate schedules (under gradient accumulation it counts
    every batch, where `optimizer.iterations` counts applied updates)."""
    return optimizer._iterations


def current_step(optimizer: keras.optimizers.Optimizer) -> int:
    return int(keras.ops.convert_to_numpy(optimizer._iterations))


def reset_step(optimizer: keras.optimizers.Optimizer) -> None:
    optimizer._iterations.assign(0)


def optimizer_map(optimizer: keras.optimizers.MultiOptimizer):
    """A `MultiOptimizer`'s `OptimizerMap` (or the list of pairs it was given)."""
    return optimizer._optimizer_map


def sgd_momentum_slot(optimizer: keras.optimizers.SGD, variable: keras.Variable) -> keras.Variable:
    """SGD's momentum slot of `variable`."""
    return optimizer.momentums[optimizer._get_variable_index(variable)]


def adam_slots(optimizer: keras.optimizers.Optimizer, variable: keras.Variable):
    """The first-moment slot (`z` for ScheduleFreeAdamW), the second-moment slot and, with AMSGrad,
    the running maximum of the second (else None) of `variable`, for Adam and its kin."""
    index = optimizer._get_variable_index(variable)
    hats = getattr(optimizer, "_velocity_hats", None)
    return optimizer._momentums[index], optimizer._velocities[index], hats[index] if hats else None


class ScheduledMomentumStep:
    """Mixin for a Keras optimizer whose `_momentum_name` attribute may hold a schedule: evaluates it
    once per optimizer step, as Keras does the learning rate, into `_step_momentum`, rather than once
    per variable inside `update_step` (measured: up to 8% of a small MLP's step on TensorFlow)."""

    _momentum_name = None

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        schedule = getattr(self, self._momentum_name)
        if isinstance(schedule, LearningRateSchedule):
            self._step_momentum = schedule(self._iterations)
        try:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        finally:
            self._step_momentum = None  # a traced value must not outlive its trace


def tf_op_seed_stream():
    """The Python `random.Random` from which TensorFlow draws each new op's seed (`tf.data`'s shuffle
    among them), which `tf.random.set_seed` seeds; None where TensorFlow has none."""
    from tensorflow.python.eager import context

    return getattr(context.context(), "_rng", None)
