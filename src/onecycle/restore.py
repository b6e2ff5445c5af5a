"""Trial trainings that leave no trace (the range test, the small-data guard): a snapshot of a
model, its optimizer and its rates to restore, the global random streams to put back, and the
build that makes the optimizer's slots exist before the snapshot. Keras' private attributes are
read through `keras_internals`."""

from __future__ import annotations

import contextlib
import random

import keras
import numpy as np
from keras import ops

from onecycle import keras_internals as internals
from onecycle.groups import rate_groups


class Snapshot:
    """Every variable of a model and of its optimizer, and the learning-rate object of every rate
    group (each sub-optimizer of a `MultiOptimizer`)."""

    def __init__(self, model):
        self.model = model
        self.groups = rate_groups(model.optimizer)
        self.variables = (
            list(model.variables) + list(model.optimizer.variables) + list(model.metrics_variables)
        )
        self.values = [to_numpy(v) for v in self.variables]
        self.learning_rates = [internals.learning_rate(g.optimizer) for g in self.groups]

    def restore(self):
        for group, rate in zip(self.groups, self.learning_rates):
            internals.swap_learning_rate(group.optimizer, rate)
        for variable, value in zip(self.variables, self.values):
            variable.assign(value)
        self.model.train_function = None  # the traced step reads the learning-rate object


def to_numpy(variable):
    value = variable.value
    if hasattr(value, "read_value"):  # a tf.distribute variable: read it in cross-replica context
        value = value.read_value()
    return np.array(ops.convert_to_numpy(value))


def global_random_state():
    """Python's, NumPy's and the backend's global random streams (torch's generator, TensorFlow's
    op seeds): `keras.utils.set_random_seed` seeds them, and Keras' `fit` shuffles arrays from
    NumPy's (JAX), torch's (PyTorch) or a new op seed (TensorFlow)."""
    backend_state = None
    if keras.backend.backend() == "torch":
        import torch

        backend_state = torch.get_rng_state()
    elif keras.backend.backend() == "tensorflow":
        rng = internals.tf_op_seed_stream()  # TensorFlow draws each new op's seed (tf.data's shuffle) from it
        backend_state = rng.getstate() if rng is not None else None
    return random.getstate(), np.random.get_state(), backend_state


def restore_global_random_state(state):
    python_state, numpy_state, backend_state = state
    random.setstate(python_state)
    np.random.set_state(numpy_state)
    if backend_state is None:
        return
    if keras.backend.backend() == "torch":
        import torch

        torch.set_rng_state(backend_state)
    elif internals.tf_op_seed_stream() is not None:
        internals.tf_op_seed_stream().setstate(backend_state)


def build(model, first_x):
    """Build the model and the optimizer's slots, in the scope of the `tf.distribute` strategy the
    model was created under (Keras' `fit` does the same), so that the range test may be called
    outside `strategy.scope()`."""
    strategy = getattr(model, "distribute_strategy", None)  # TensorFlow backend only
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        if not model.built:
            model(first_x)
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
