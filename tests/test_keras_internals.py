"""Every private attribute of Keras that onecycle touches, checked on the installed Keras: a release
that moves one fails here by name. And no module of `src/` but `keras_internals` touches one."""

import pathlib
import re

import keras
import numpy as np
import pytest

import onecycle
from onecycle import keras_internals as internals

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "onecycle"
# an attribute access `name._private` on anything but `self`, or a private method that overrides Keras'
KERAS_SLOTS = "iterations|momentums|velocities|velocity_hats|get_variable_index|learning_rate|track_variable"
PRIVATE = re.compile(
    rf"(?<![\w.])(?!self\b)\w+\._[a-z]\w*|def _backend_update_step|\bself\._(?:{KERAS_SLOTS})\b"
)
OWN = {"_metadata", "_importlib"}  # onecycle's own private names, not Keras'


@pytest.mark.backend_independent
def test_no_module_but_keras_internals_touches_a_private_attribute():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "keras_internals.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#")[0]
            for match in PRIVATE.finditer(code):
                if (
                    match.group(0).split(".")[0] not in OWN
                    and '"' not in code[: match.start()].split("(")[-1]
                ):
                    offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.backend_independent
def test_the_pattern_finds_what_it_looks_for():
    for line in (
        "rate = optimizer._learning_rate",
        "m = self._momentums[i]",
        "    def _backend_update_step(self):",
    ):
        assert PRIVATE.search(line), line
    for line in ("self._write(logs)", "value = _metadata.version('x')", "optimizer.learning_rate = 1"):
        match = PRIVATE.search(line)
        assert match is None or match.group(0).split(".")[0] in OWN, line


def _compiled(optimizer):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer, "mse")
    model.optimizer.build(model.trainable_variables)
    return model


def test_the_rate_object_is_read_swapped_and_installed():
    model = _compiled(keras.optimizers.SGD(0.05))
    optimizer = model.optimizer
    variable = internals.learning_rate(optimizer)
    assert internals.is_variable(variable) and float(variable.numpy()) == pytest.approx(0.05)
    schedule = onecycle.OneCycle(0.1, 10)
    internals.swap_learning_rate(optimizer, schedule)
    assert internals.learning_rate(optimizer) is schedule
    internals.swap_learning_rate(optimizer, variable)
    assert internals.learning_rate(optimizer) is variable
    internals.install_learning_rate(optimizer, schedule)
    assert internals.learning_rate(optimizer) is schedule
    assert not any(v is variable for v in optimizer.variables)  # Keras' setter untracked it
    internals.install_learning_rate(optimizer, 0.02)
    rate = internals.learning_rate(optimizer)
    assert internals.is_variable(rate) and any(v is rate for v in optimizer.variables)


def test_the_step_counter_is_read_and_reset():
    model = _compiled(keras.optimizers.SGD(0.05))
    x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert internals.current_step(model.optimizer) == 2
    assert int(keras.ops.convert_to_numpy(internals.step_counter(model.optimizer))) == 2
    internals.reset_step(model.optimizer)
    assert internals.current_step(model.optimizer) == 0


def test_the_slots_of_sgd_and_adam_are_reached():
    sgd = _compiled(keras.optimizers.SGD(0.05, momentum=0.9))
    variable = sgd.trainable_variables[0]
    assert internals.sgd_momentum_slot(sgd.optimizer, variable).shape == variable.shape
    adam = _compiled(keras.optimizers.Adam(amsgrad=True))
    variable = adam.trainable_variables[0]
    m, v, v_hat = internals.adam_slots(adam.optimizer, variable)
    assert m.shape == v.shape == v_hat.shape == variable.shape
    plain = _compiled(keras.optimizers.Adam())
    assert internals.adam_slots(plain.optimizer, plain.trainable_variables[0])[2] is None


def test_a_multioptimizers_map_is_listed():
    if not hasattr(keras.optimizers, "MultiOptimizer"):
        pytest.skip("this Keras has no MultiOptimizer")
    mapping = keras.optimizers.OptimizerMap(default_optimizer=keras.optimizers.SGD(0.1))
    mapping["dense/.*"] = keras.optimizers.SGD(0.01)
    optimizer = keras.optimizers.MultiOptimizer(mapping)
    assert internals.optimizer_map(optimizer) is mapping


def test_the_scheduled_momentum_step_evaluates_the_schedule_each_step():
    schedule = onecycle.OneCycle(0.1, 4)
    model = _compiled(onecycle.optimizers.SGD(schedule, momentum=schedule.momentum()))
    x, y = np.ones((8, 3), "float32"), np.ones((8, 2), "float32")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert model.optimizer._step_momentum is None  # the mixin's own attribute: cleared after each step
    assert internals.current_step(model.optimizer) == 4


def test_tensorflows_op_seed_stream_is_found():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's stream")
    import random

    keras.utils.set_random_seed(1)
    assert isinstance(internals.tf_op_seed_stream(), random.Random)


def test_a_variable_of_any_backend_is_a_variable():
    model = _compiled(keras.optimizers.SGD(0.05))
    assert internals.is_variable(internals.learning_rate(model.optimizer))  # made by the optimizer
    assert internals.is_variable(keras.Variable(1.0))
    assert not internals.is_variable(1.0)
    assert not internals.is_variable(keras.ops.convert_to_tensor(1.0))
