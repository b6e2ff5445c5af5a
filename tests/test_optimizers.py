import json

import keras
import numpy as np
import pytest

import onecycle
from onecycle import optimizers


def _train(optimizer, steps=5):
    """Fit y = 0 from w = 1 with x = ones(3): the gradient of mean((x.w)^2) is 2(x.w) per weight."""
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    jit = keras.backend.backend() != "torch"
    model.compile(optimizer, "mse", jit_compile=jit)
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")
    model.fit(x, y, batch_size=4, epochs=steps, verbose=0, shuffle=False)
    return model.get_weights()[0].ravel()


def _reference(kind, lrs, moms, steps=5, nesterov=False, weight_decay=0.0):
    w, m, v = np.ones(3), np.zeros(3), np.zeros(3)
    for t in range(steps):
        g = 2 * w.sum() * np.ones(3)
        if kind == "sgd":
            m = m * moms[t] - g * lrs[t]
            w = w + (m * moms[t] - g * lrs[t] if nesterov else m)
        else:
            w = w - weight_decay * lrs[t] * w
            m = m + (g - m) * (1 - moms[t])
            v = v + (g * g - v) * (1 - 0.999)
            w = w - m * lrs[t] * np.sqrt(1 - 0.999 ** (t + 1)) / (1 - moms[t] ** (t + 1)) / (
                np.sqrt(v) + 1e-7
            )
    return w


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_cycled_momentum_changes_updates_under_jit(nesterov):
    schedule = onecycle.OneCycle(0.05, 10)
    momentum = schedule.momentum(0.95, 0.85)
    got = _train(optimizers.SGD(learning_rate=schedule, momentum=momentum, nesterov=nesterov))
    lrs, moms = schedule.evaluate(np.arange(5)), momentum.evaluate(np.arange(5))
    np.testing.assert_allclose(got, _reference("sgd", lrs, moms, nesterov=nesterov), rtol=1e-5)
    # and it differs from a constant momentum of the first value: the schedule is really applied
    assert not np.allclose(got, _reference("sgd", lrs, [moms[0]] * 5, nesterov=nesterov), rtol=1e-4)


@pytest.mark.parametrize("cls,decay", [(optimizers.Adam, 0.0), (optimizers.AdamW, 0.01)])
def test_adam_cycled_beta_1_changes_updates_under_jit(cls, decay):
    schedule = onecycle.OneCycle(0.1, 10)
    beta_1 = schedule.momentum(0.95, 0.85)
    kwargs = {"weight_decay": decay} if cls is optimizers.AdamW else {}
    got = _train(cls(learning_rate=schedule, beta_1=beta_1, **kwargs))
    lrs, moms = schedule.evaluate(np.arange(5)), beta_1.evaluate(np.arange(5))
    np.testing.assert_allclose(got, _reference("adam", lrs, moms, weight_decay=decay), rtol=1e-5)


def test_float_momentum_is_keras_sgd():
    ours = _train(optimizers.SGD(0.01, momentum=0.9))
    theirs = _train(keras.optimizers.SGD(0.01, momentum=0.9))
    np.testing.assert_array_equal(ours, theirs)


def test_config_round_trip_keeps_the_schedule():
    schedule = onecycle.OneCycle(0.1, 100)
    optimizer = optimizers.Adam(learning_rate=schedule, beta_1=schedule.momentum())
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is optimizers.Adam
    np.testing.assert_allclose(restored.beta_1.evaluate([0, 45]), [0.95, 0.85])


@pytest.mark.parametrize("value", [-0.1, 1.0, float("nan"), "0.9"])
def test_bad_momentum_is_named(value):
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(0.01, momentum=value)
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Adam(0.01, beta_1=value)


def test_with_rate_copies_class_and_config_at_another_rate():
    template = optimizers.AdamW(learning_rate=0.1, beta_1=0.9, weight_decay=0.02)
    copy = optimizers.with_rate(template, 0.003)
    assert type(copy) is optimizers.AdamW and copy is not template and copy.name != ""
    assert copy.get_config() == {
        **template.get_config(),
        "learning_rate": pytest.approx(0.003),
        "name": copy.name,
    }


def test_defaults_are_keras_defaults():
    keys = ("learning_rate", "momentum", "nesterov", "beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay")
    for ours, theirs in (
        (optimizers.SGD(), keras.optimizers.SGD()),
        (optimizers.Adam(), keras.optimizers.Adam()),
        (optimizers.AdamW(), keras.optimizers.AdamW()),
    ):
        mine, keras_own = ours.get_config(), theirs.get_config()
        assert {k: mine.get(k) for k in keys} == {k: keras_own.get(k) for k in keys}


def test_float_beta_1_is_keras_adam():
    ours = _train(optimizers.Adam(0.01, beta_1=0.8, amsgrad=True))
    theirs = _train(keras.optimizers.Adam(0.01, beta_1=0.8, amsgrad=True))
    np.testing.assert_array_equal(ours, theirs)


def test_a_config_holding_a_schedule_is_plain_json():
    """As Keras' own configs: a model saved with the optimizer writes its config as JSON."""
    schedule = onecycle.OneCycle(0.1, 100)
    for optimizer, key in (
        (optimizers.SGD(schedule, momentum=schedule.momentum()), "momentum"),
        (optimizers.Adam(schedule, beta_1=schedule.momentum()), "beta_1"),
    ):
        config = optimizer.get_config()
        assert config[key]["class_name"] == "Piecewise"
        restored = type(optimizer).from_config(json.loads(json.dumps(config)))
        np.testing.assert_allclose(getattr(restored, key).evaluate([0, 45]), [0.95, 0.85])


class _Unregistered(keras.optimizers.schedules.LearningRateSchedule):
    """A momentum schedule Keras cannot find by name: only `custom_objects` resolves it."""

    def __call__(self, step):
        return keras.ops.convert_to_tensor(0.9)

    def get_config(self):
        return {}


@pytest.mark.parametrize("cls, key", [(optimizers.SGD, "momentum"), (optimizers.Adam, "beta_1")])
@pytest.mark.parametrize("where", ["momentum", "learning_rate"])
def test_from_config_resolves_unregistered_schedules_with_custom_objects(cls, key, where):
    key = key if where == "momentum" else "learning_rate"
    config = json.loads(json.dumps(cls(**{key: _Unregistered()}).get_config()))
    config[key]["module"] = "nowhere"  # as when the class is defined in the user's script
    restored = cls.from_config(config, custom_objects={"_Unregistered": _Unregistered})
    assert restored.get_config()[key]["class_name"] == "_Unregistered"
    with pytest.raises(TypeError):
        cls.from_config(config)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_scheduled_beta_1_on_a_float64_variable_matches_numpy(amsgrad):
    """Adam's step with a scheduled `beta_1` is computed in the variable's dtype (float64 here;
    JAX keeps float32 unless told), with and without AMSGrad."""
    schedule = onecycle.OneCycle(0.1, 10)
    beta_1 = schedule.momentum(0.95, 0.85)
    optimizer = optimizers.Adam(schedule, beta_1=beta_1, amsgrad=amsgrad)
    variable = keras.Variable(np.ones(3), dtype="float64")
    optimizer.build([variable])
    gradients = [np.array([1.0, -2.0, 3.0]) * (1 if t % 2 else -0.5) * 10.0**-t for t in range(6)]
    w, m, v, v_hat = np.ones(3), np.zeros(3), np.zeros(3), np.zeros(3)
    # the schedules run in float32 inside the step, then the step works in the variable's dtype
    lrs = schedule.evaluate(np.arange(6), dtype="float32").astype("float64")
    moms = beta_1.evaluate(np.arange(6), dtype="float32").astype("float64")
    for t, g in enumerate(gradients):
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g, dtype=variable.dtype), variable)])
        m = m + (g - m) * (1 - moms[t])
        v = v + (g * g - v) * (1 - 0.999)
        v_hat = np.maximum(v_hat, v)
        alpha = lrs[t] * np.sqrt(1 - 0.999 ** (t + 1)) / (1 - moms[t] ** (t + 1))
        w = w - m * alpha / (np.sqrt(v_hat if amsgrad else v) + 1e-7)
    # TensorFlow: to float64 rounding; JAX keeps float32 unless told, and PyTorch's eager step reads
    # the schedules as Python floats rounded to float32 at another point
    exact = keras.backend.backend() == "tensorflow"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), w, rtol=1e-9 if exact else 1e-5)
    # AMSGrad changes the result here: the gradients shrink, and so does the second moment
    assert amsgrad == (not np.allclose(w, _adam_without_amsgrad(gradients, lrs, moms), rtol=1e-6))


def _adam_without_amsgrad(gradients, lrs, moms):
    w, m, v = np.ones(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(gradients):
        m = m + (g - m) * (1 - moms[t])
        v = v + (g * g - v) * (1 - 0.999)
        w = w - m * lrs[t] * np.sqrt(1 - 0.999 ** (t + 1)) / (1 - moms[t] ** (t + 1)) / (np.sqrt(v) + 1e-7)
    return w


@pytest.mark.parametrize("nesterov", [False, True])
def test_scheduled_momentum_on_a_float64_variable_matches_numpy(nesterov):
    """SGD's step with a scheduled momentum is computed in the variable's dtype (float64 here), its
    gradient not rounded to float32."""
    schedule = onecycle.OneCycle(0.1, 10)
    momentum = schedule.momentum(0.95, 0.85)
    optimizer = optimizers.SGD(schedule, momentum=momentum, nesterov=nesterov)
    variable = keras.Variable(np.ones(3), dtype="float64")
    optimizer.build([variable])
    gradients = [np.array([1.0, -2.0, 3.0]) / 3.0 * (1 if t % 2 else -0.5) * 10.0**-t for t in range(6)]
    w, m = np.ones(3), np.zeros(3)
    lrs = schedule.evaluate(np.arange(6), dtype="float32").astype("float64")
    moms = momentum.evaluate(np.arange(6), dtype="float32").astype("float64")
    for t, g in enumerate(gradients):
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g, dtype=variable.dtype), variable)])
        m = m * moms[t] - g * lrs[t]
        w = w + (m * moms[t] - g * lrs[t] if nesterov else m)
    exact = keras.backend.backend() == "tensorflow"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), w, rtol=1e-12 if exact else 1e-5)


class _Float64Constant(keras.optimizers.schedules.LearningRateSchedule):
    """A schedule that answers in float64 (Keras' own answer in float32)."""

    def __init__(self, value):
        self.value = value

    def __call__(self, step):
        return keras.ops.add(keras.ops.cast(step, "float64") * 0.0, self.value)

    def get_config(self):
        return {"value": self.value}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="float64 steps are exact on TensorFlow")
def test_float64_variables_take_the_constants_unrounded():
    """On a float64 variable the step computes in float64 with the constants as given: Adam's
    `beta_2` (0.999 rounded to float32 moves `1 - beta_2` by 1.3e-5) and a momentum schedule that
    answers in float64 (0.9 rounded to float32 moves by 2.6e-8)."""
    LR = 2.0**-7  # a rate float32 holds exactly: Keras keeps the rate in a float32 variable
    gradients = [np.array([1.0, -2.0, 3.0]) / 3.0 * (1000.0 if t % 3 == 0 else 1.0) for t in range(40)]
    adam = optimizers.Adam(LR, beta_1=_Float64Constant(0.9))
    sgd = optimizers.SGD(LR, momentum=_Float64Constant(0.9))
    variables = [keras.Variable(np.zeros(3), dtype="float64") for _ in range(2)]
    adam.build([variables[0]])
    sgd.build([variables[1]])
    w_adam, m, v, w_sgd, velocity = np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(gradients):
        for optimizer, variable in zip((adam, sgd), variables):
            optimizer.apply_gradients([(keras.ops.convert_to_tensor(g, dtype="float64"), variable)])
        m = m + (g - m) * (1 - 0.9)
        v = v + (g * g - v) * (1 - 0.999)
        w_adam = w_adam - m * LR * np.sqrt(1 - 0.999 ** (t + 1)) / (1 - 0.9 ** (t + 1)) / (np.sqrt(v) + 1e-7)
        velocity = velocity * 0.9 - g * LR
        w_sgd = w_sgd + velocity
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variables[0]), w_adam, rtol=1e-12)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variables[1]), w_sgd, rtol=1e-12)
