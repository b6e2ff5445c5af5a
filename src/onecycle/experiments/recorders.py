"""The callbacks the harness records a training with: the step of a divergence, one record per epoch."""

import math
import time

import keras

from onecycle.experiments import arms, storage


class DivergenceRecorder(keras.callbacks.Callback):
    """Stops training at the first non-finite batch loss and remembers its step (1-based, counted
    from the epoch and batch indices). Not `async_safe`: on JAX a batch's loss may be a donated
    buffer by the time an asynchronous call would read it."""

    def __init__(self, steps_per_epoch):
        super().__init__()
        self.steps_per_epoch, self.epoch, self.step = steps_per_epoch, 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self.step is None and loss is not None and not math.isfinite(float(loss)):
            self.step = self.epoch * self.steps_per_epoch + batch + 1
            self.model.stop_training = True


class EpochLog(keras.callbacks.Callback):
    """Keeps one record per finished epoch in `path` (JSON, written atomically), wall time included:
    the progress of a training while it runs."""

    def __init__(self, path, metric):
        super().__init__()
        self.path, self.metric, self.epochs = path, metric, []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["wall_time"] = time.perf_counter() - self.start
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
