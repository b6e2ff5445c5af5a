"""Evaluating `keras.optimizers.ScheduleFreeAdamW` where the method is meant to be evaluated.

Schedule-free training (Defazio et al., 2024) keeps three sequences: `z` (where gradient steps
land), `x` (the running average of `z`, the point to evaluate) and `y` (the interpolation
`(1 - beta_1) z + beta_1 x`, where gradients are taken). Keras 3.15's implementation stores `y` in
the model's variables and `z` in the optimizer's `momentum` slots; `x` is not stored. So a plain
`model.evaluate` after training measures `y`, not `x`. From the two stored sequences,
`x = (y - (1 - beta_1) z) / beta_1`.

Batch-norm running statistics are gathered at `y` during training; at `x` they are recomputed (the
reference implementation's advice) from training batches in training mode, with every random
layer's state put back afterwards so that the next epoch's dropout and augmentation are unchanged.
"""

import keras
import numpy as np

BN_BATCHES = 50  # training batches that recompute batch-norm statistics at x


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def averaged_weights(model):
    """The model's trainable weights at `x`, as NumPy arrays, from `y` (the model) and `z` (the
    optimizer's momentum slots)."""
    optimizer = model.optimizer
    beta_1 = float(optimizer.beta_1)
    out = []
    for variable in model.trainable_variables:
        z = optimizer._momentums[optimizer._get_variable_index(variable)]  # Keras keeps z here
        y_value, z_value = _values([variable, z])
        out.append((y_value - (1.0 - beta_1) * z_value) / beta_1)
    return out


def _batch_norm_layers(model):
    return [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]


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
