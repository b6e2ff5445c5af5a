import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def tiny_classifier():
    """A compiled MLP and 8-feature, 3-class data: seconds to train on any backend."""

    def make(optimizer=None, seed=0, n=96):
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 8)).astype("float32")
        y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dropout(0.1),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        import onecycle

        model.compile(
            optimizer or onecycle.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy"
        )
        return model, x, y

    return make


class LrTrace(keras.callbacks.Callback):
    """Records the learning rate the optimizer applies at the start of every batch, in `trace`."""

    def __init__(self):
        super().__init__()
        self.trace = []

    def on_train_batch_begin(self, batch, logs=None):
        self.trace.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


@pytest.fixture
def lr_trace():
    """Makes `LrTrace` callbacks."""
    return LrTrace


class FailingData(keras.utils.PyDataset):
    """Batches of 16 from `x, y` (6 per epoch) that raise `error` on the `fail_at`-th batch read."""

    def __init__(self, x, y, error, fail_at=8):
        super().__init__()
        self.x, self.y, self.calls, self.error, self.fail_at = x, y, 0, error, fail_at

    def __len__(self):
        return 6

    def __getitem__(self, i):
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.error
        return self.x[i * 16 : (i + 1) * 16], self.y[i * 16 : (i + 1) * 16]
