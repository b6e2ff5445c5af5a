"""Schedule-free AdamW trained and evaluated as the method defines it, on every backend.

Schedule-free training (Defazio et al., 2024) keeps three sequences: `z` (where gradient steps
land), `x` (the running average of `z`, the point to evaluate) and `y` (the interpolation
`(1 - beta_1) z + beta_1 x`, where gradients are taken). Keras 3.15's implementation stores `y` in
the model's variables and `z` in the optimizer's `momentum` slots; `x` is not stored. So a plain
`model.evaluate` after training measures `y`, not `x`. From the two stored sequences,
`x = (y - (1 - beta_1) z) / beta_1`.

On TensorFlow and PyTorch, Keras 3.15's `update_step` keeps a reference to `z` (not a copy), updates
`z` in place, then reads the reference as the old `z`: its `x` loses `(1 - beta_1) / beta_1` (a ninth
at the default 0.9) of every step of `z`, so that `x` and `y` are pulled back toward the initial weights
(JAX's immutable arrays hide the slip). `ScheduleFreeAdamW` below is Keras' class with the old `z`
copied before the update: the method of the paper on every backend, checked against a NumPy
transcription of it in tests/test_arms.py. The harness's schedule-free arms train with it.

Batch-norm running statistics are gathered at `y` during training; at `x` they are recomputed (the
reference implementation's advice) from training batches in training mode, with every random
layer's state put back afterwards so that the next epoch's dropout and augmentation are unchanged.
"""

import keras
import numpy as np

from onecycle import keras_internals as internals

BN_BATCHES = 50  # training batches that recompute batch-norm statistics at x


@keras.saving.register_keras_serializable(package="onecycle.experiments")
class ScheduleFreeAdamW(keras.optimizers.ScheduleFreeAdamW):
    """`keras.optimizers.ScheduleFreeAdamW` (same arguments, same slots: `momentum` holds `z`, the
    model holds `y`) whose step reads the old `z` before updating it, on every backend."""

    def update_step(self, gradient, variable, learning_rate):
        ops = keras.ops
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        if self.warmup_steps > 0:
            lr = lr * ops.minimum(step / ops.cast(self.warmup_steps, dtype), 1.0)
        z, velocity, _ = internals.adam_slots(self, variable)
        z_old = ops.copy(z)  # a value, not the variable: the step below updates z in place
        x_old = (ops.convert_to_tensor(variable) - (1.0 - beta_1) * z_old) / beta_1
        self.assign_add(velocity, (ops.square(gradient) - velocity) * (1.0 - beta_2))
        denom = ops.sqrt(velocity / (1.0 - ops.power(beta_2, step))) + ops.cast(self.epsilon, dtype)
        z_new = z_old - lr * gradient / denom
        self.assign(z, z_new)
        weight = 1.0 / step
        x_new = (1.0 - weight) * x_old + weight * z_new
        self.assign(variable, (1.0 - beta_1) * z_new + beta_1 * x_new)


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def averaged_weights(model):
    """The model's trainable weights at `x`, as NumPy arrays, from `y` (the model) and `z` (the
    optimizer's momentum slots)."""
    optimizer = model.optimizer
    beta_1 = float(optimizer.beta_1)
    out = []
    for variable in model.trainable_variables:
        z = internals.adam_slots(optimizer, variable)[0]  # Keras keeps z here
        y_value, z_value = _values([variable, z])
        out.append((y_value - (1.0 - beta_1) * z_value) / beta_1)
    return out


def _batch_norm_layers(model):
    return [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


def _all_layers(layer):
    """`layer` and every layer nested in it, depth first (models and layers that hold `layers`)."""
    yield layer
    for inner in getattr(layer, "layers", None) or []:
        yield from _all_layers(inner)


def _random_states(model):
    return [v for v in model.variables if "seed_generator_state" in v.path]


def recompute_batch_norm(model, x, batch_size, batches=BN_BATCHES):
    """Moving statistics of every batch-norm layer recomputed at the current weights from `batches`
    training batches (in order, from the start of `x`), the random layers' states kept."""
    layers = _batch_norm_layers(model)
    if not layers:
        return
    randoms = _random_states(model)
    saved = _values(randoms)
    for layer in layers:
        layer.moving_mean.assign(np.zeros(layer.moving_mean.shape))
        layer.moving_variance.assign(np.ones(layer.moving_variance.shape))
    for start in range(0, min(len(x), batches * batch_size), batch_size):
        model(x[start : start + batch_size], training=True)
    for variable, value in zip(randoms, saved):
        variable.assign(value)


class AveragedEvaluation(keras.callbacks.Callback):
    """Evaluates a `ScheduleFreeAdamW` model at `x`: the weights are swapped to `x` (batch-norm
    statistics recomputed) before every validation pass and swapped back after it; at the end of
    training they stay at `x`, so that what follows (`evaluate` on the test split) measures `x`."""

    def __init__(self, x_train, batch_size):
        super().__init__()
        self.x_train, self.batch_size = x_train, batch_size
        self.saved = None

    def _to_average(self):
        state = list(self.model.trainable_variables) + [
            v for layer in _batch_norm_layers(self.model) for v in (layer.moving_mean, layer.moving_variance)
        ]
        self.saved = (state, _values(state))
        for variable, value in zip(self.model.trainable_variables, averaged_weights(self.model)):
            variable.assign(value)
        recompute_batch_norm(self.model, self.x_train, self.batch_size)

    def _back(self):
        if self.saved is not None:
            for variable, value in zip(*self.saved):
                variable.assign(value)
            self.saved = None

    def on_test_begin(self, logs=None):
        if self.model.optimizer.iterations is not None and int(self.model.optimizer.iterations) > 0:
            self._to_average()

    def on_test_end(self, logs=None):
        self._back()

    def on_train_end(self, logs=None):
        self._back()
        if int(self.model.optimizer.iterations) > 0:
            self._to_average()
            self.saved = None
