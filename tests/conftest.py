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
