"""Callbacks that expose the schedules in Keras logs."""

import keras
from keras import ops

from onecycle import checks
from onecycle.optimizers import current_momentum


class ScheduleLogger(keras.callbacks.Callback):
    """Writes the learning rate (and the momentum or `beta_1` when it is cycled) into the epoch logs.

    Put it before `CSVLogger`/`TensorBoard` in the callback list; `History` records what it writes
    as `history.history["learning_rate"]` and `["momentum"]`. The values are those the optimizer
    applies at the end of the epoch. With `per_batch=True` the batch logs carry them too.
    """

    def __init__(self, per_batch: bool = False):
        super().__init__()
        self.per_batch = checks.boolean("per_batch", per_batch)

    def _write(self, logs):
        if logs is None:
            return
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(ops.convert_to_numpy(optimizer.learning_rate))
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        if isinstance(
            getattr(inner, "momentum", getattr(inner, "beta_1", None)),
            keras.optimizers.schedules.LearningRateSchedule,
        ):
            logs["momentum"] = current_momentum(optimizer)

    def on_epoch_end(self, epoch, logs=None):
        self._write(logs)

    def on_train_batch_end(self, batch, logs=None):
        if self.per_batch:
            self._write(logs)
