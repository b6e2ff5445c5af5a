"""Callbacks that expose the schedules in Keras logs."""

import keras
from keras import ops

from onecycle import checks
from onecycle.groups import rate_groups
from onecycle.optimizers import current_momentum


class ScheduleLogger(keras.callbacks.Callback):
    """Writes the learning rate (and the momentum or `beta_1` when it is cycled) into the epoch logs.

    Put it before `CSVLogger`/`TensorBoard` in the callback list; `History` records what it writes
    as `history.history["learning_rate"]` and `["momentum"]`. With a `MultiOptimizer`, those keys
    hold the default optimizer's values and `learning_rate/PATTERN`, `momentum/PATTERN` the others'.
    The values are those the optimizer applies at the end of the epoch. With `per_batch=True` the batch logs carry them too.
    """

    def __init__(self, per_batch: bool = False):
        super().__init__()
        self.per_batch = checks.boolean("per_batch", per_batch)

    @property
    def async_safe(self) -> bool:
        """Without `per_batch` its batch hook does nothing: Keras may then dispatch batch callbacks
        asynchronously (JAX, PyTorch), as it does without this logger."""
        return not self.per_batch

    def _write(self, logs):
        if logs is None:
            return
        for group in rate_groups(self.model.optimizer):
            optimizer = group.optimizer
            logs[group.log_name("learning_rate")] = float(ops.convert_to_numpy(optimizer.learning_rate))
            if isinstance(
                getattr(optimizer, "momentum", getattr(optimizer, "beta_1", None)),
                keras.optimizers.schedules.LearningRateSchedule,
            ):
                logs[group.log_name("momentum")] = current_momentum(optimizer)

    def on_epoch_end(self, epoch, logs=None):
        self._write(logs)

    def on_train_batch_end(self, batch, logs=None):
        if self.per_batch:
            self._write(logs)
