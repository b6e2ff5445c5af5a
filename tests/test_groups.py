"""MultiOptimizer everywhere: the range test sweeps and restores every sub-optimizer, fit_one_cycle
cycles each, ScheduleLogger logs each, schedules survive a .keras round trip; discriminative rates."""

import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

import onecycle
from conftest import FailingData
from onecycle.groups import discriminative_optimizer, discriminative_rates, rate_groups

pytestmark = pytest.mark.skipif(
    not hasattr(keras.optimizers, "MultiOptimizer"),
    reason="this Keras has no MultiOptimizer (3.15 and newer)",
)

BODY = "body/.*"


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,))
    h = keras.layers.Dense(16, activation="relu", name="body")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(h)
    return keras.Model(inputs, outputs)


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = ((x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5)).astype("int32")
    return x, y


def _multi(body_lr=0.001, head_lr=0.01, cls=onecycle.optimizers.SGD, **kwargs):
    mapping = keras.optimizers.OptimizerMap(default_optimizer=cls(head_lr, **kwargs))
    mapping[BODY] = cls(body_lr, **kwargs)
    return keras.optimizers.MultiOptimizer(mapping)


def _compiled(optimizer, seed=0):
    model = _model(seed)
    model.compile(optimizer, "sparse_categorical_crossentropy")
    return model


def _state(model):
    return [
        np.array(keras.ops.convert_to_numpy(v.value)) for v in model.variables + model.optimizer.variables
    ]


def _rate_objects(model):
    return [g.optimizer._learning_rate for g in rate_groups(model.optimizer)]


def _assert_restored(model, before, rates):
    for a, b in zip(before, _state(model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(a is b for a, b in zip(_rate_objects(model), rates, strict=True))


def test_groups_default_first_with_their_patterns():
    groups = rate_groups(_multi())
    assert [g.key for g in groups] == [None, BODY]
    assert [g.log_name("learning_rate") for g in groups] == ["learning_rate", f"learning_rate/{BODY}"]
    (plain,) = rate_groups(onecycle.optimizers.SGD(0.1))
    assert plain.key is None


def test_range_test_sweeps_every_sub_optimizer_in_proportion():
    x, y = _data()
    kwargs = dict(batch_size=16, num_steps=40, end_lr=1.0, seed=0, verbose=0)
    plain = onecycle.find_lr(_compiled(onecycle.optimizers.SGD(0.01, momentum=0.9)), x, y, **kwargs)
    same = onecycle.find_lr(_compiled(_multi(0.01, 0.01, momentum=0.9)), x, y, **kwargs)
    scaled = onecycle.find_lr(_compiled(_multi(0.001, 0.01, momentum=0.9)), x, y, **kwargs)
    np.testing.assert_allclose(same.lrs, plain.lrs)
    np.testing.assert_allclose(same.losses, plain.losses, rtol=1e-4)  # both groups swept, as one optimizer
    assert not np.allclose(scaled.losses[10:], plain.losses[10:], rtol=1e-3)  # the body swept 10x lower


class _Recording(onecycle.optimizers.SGD):
    """An SGD that records the rate of every update it applies (the model must run eagerly)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.applied = []

    def update_step(self, gradient, variable, learning_rate):
        self.applied.append(float(keras.ops.convert_to_numpy(learning_rate)))
        return super().update_step(gradient, variable, learning_rate)


def test_each_sub_optimizer_sweeps_from_its_share_of_start_lr_to_its_share_of_end_lr():
    x, y = _data()
    model = _model()
    model.compile(
        _multi(0.001, 0.01, cls=_Recording, momentum=0.9), "sparse_categorical_crossentropy", run_eagerly=True
    )
    result = onecycle.find_lr(model, x, y, batch_size=16, num_steps=6, start_lr=1e-4, end_lr=1.0, verbose=0)
    head, body = (g.optimizer.applied[::2] for g in rate_groups(model.optimizer))  # kernel and bias
    np.testing.assert_allclose(head, result.lrs, rtol=1e-5)
    np.testing.assert_allclose(body, np.asarray(result.lrs) / 10, rtol=1e-5)


def test_range_test_restores_every_group_after_divergence():
    x, y = _data()
    model = _compiled(_multi(momentum=0.9))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before, rates = _state(model), _rate_objects(model)
    result = onecycle.find_lr(model, x, y, batch_size=16, num_steps=300, start_lr=1e-4, end_lr=1e6, verbose=0)
    assert result.diverged and len(result.lrs) < 300
    _assert_restored(model, before, rates)


@pytest.mark.parametrize("error", [RuntimeError("data went away"), KeyboardInterrupt()])
def test_range_test_restores_every_group_after_exception_and_interrupt(error):
    x, y = _data()
    model = _compiled(_multi(cls=onecycle.optimizers.Adam))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before, rates = _state(model), _rate_objects(model)
    with pytest.raises(type(error)):
        onecycle.find_lr(model, FailingData(x, y, error), num_steps=20, verbose=0)
    _assert_restored(model, before, rates)


def test_fit_one_cycle_cycles_each_group_and_logs_each():
    x, y = _data()
    model = _compiled(_multi(momentum=0.9))
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=2, batch_size=16, verbose=0, find_lr_kwargs={"num_steps": 30}, guard=False
    )
    head, body = history.schedules
    assert body.max_lr == pytest.approx(head.max_lr / 10) and head.max_lr == pytest.approx(
        history.lr_finder.suggest()
    )
    logs = history.history
    assert logs["learning_rate"][-1] == pytest.approx(head.final_lr, rel=1e-3)
    assert logs[f"learning_rate/{BODY}"][-1] == pytest.approx(body.final_lr, rel=1e-3)
    assert logs["momentum"][-1] == pytest.approx(0.95) and logs[f"momentum/{BODY}"][-1] == pytest.approx(0.95)
    # explicit peaks, one per group
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=1, batch_size=16, verbose=0, max_lr=[0.05, 0.002], guard=False
    )
    assert [s.max_lr for s in history.schedules] == [0.05, 0.002]
    with pytest.raises(ValueError, match="max_lr"):
        onecycle.fit_one_cycle(model, x, y, epochs=1, max_lr=[0.1], guard=False)
    with pytest.raises(
        ValueError, match=r"Argument `max_lr` must be a finite number > 0. Received: max_lr=-0.002"
    ):
        onecycle.fit_one_cycle(model, x, y, epochs=1, max_lr=[0.05, -0.002], guard=False)


def test_install_schedule_names_the_argument_that_has_the_wrong_number_of_groups():
    model = _compiled(_multi(momentum=0.9))
    head, body = onecycle.OneCycle(0.1, 12), onecycle.OneCycle(0.01, 12)
    with pytest.raises(
        ValueError,
        match=r"Argument `learning_rate` must hold one value per rate group \(2\). Received: 1 values",
    ):
        onecycle.install_schedule(model, [head])
    with pytest.raises(
        ValueError, match=r"Argument `momentum` must hold one value per rate group \(2\). Received: 3 values"
    ):
        onecycle.install_schedule(model, [head, body], [head.momentum()] * 3)
    with pytest.raises(ValueError, match=r"Argument `momentum` must be a list of one value per rate group"):
        onecycle.install_schedule(model, [head, body], 0.9)


def test_schedules_continue_after_a_keras_round_trip_in_a_fresh_process(tmp_path):
    x, y = _data()
    model = _compiled(_multi(momentum=0.9))
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=4, batch_size=16, verbose=0, max_lr=0.1, initial_epoch=0, guard=False
    )
    del history
    # stop half-way: a fresh model trained 2 of 4 epochs, saved, then continued elsewhere
    model = _compiled(_multi(momentum=0.9))
    steps = 4 * 6
    head, body = onecycle.OneCycle(0.1, steps), onecycle.OneCycle(0.01, steps)
    onecycle.install_schedule(model, [head, body], [head.momentum(), body.momentum()])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    script = f"""
import json, keras, numpy as np, onecycle
from onecycle.groups import rate_groups
model = keras.saving.load_model({str(tmp_path / "m.keras")!r})
groups = rate_groups(model.optimizer)
history = model.fit(np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "y.npy")!r}), batch_size=16,
                    epochs=4, initial_epoch=2, verbose=0, callbacks=[onecycle.ScheduleLogger()])
print(json.dumps({{"types": [type(g.optimizer._learning_rate).__name__ for g in groups],
                  "iterations": [int(keras.ops.convert_to_numpy(g.optimizer.iterations)) for g in groups],
                  "logs": history.history}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads(out.stdout.strip().splitlines()[-1])
    assert record["types"] == ["OneCycle", "OneCycle"] and record["iterations"] == [steps, steps]
    np.testing.assert_allclose(record["logs"]["learning_rate"], head.evaluate([18, 24]), rtol=1e-3)
    np.testing.assert_allclose(record["logs"][f"learning_rate/{BODY}"], body.evaluate([18, 24]), rtol=1e-3)


def test_discriminative_optimizer_log_spaces_rates_over_groups():
    model = _model()
    optimizer = discriminative_optimizer(model, [BODY, [model.get_layer("head")]], 1e-4, 1e-2)
    groups = rate_groups(optimizer)
    assert [float(g.optimizer.learning_rate) for g in groups] == pytest.approx([1e-2, 1e-4])
    assert discriminative_rates(1e-4, 1e-2, 3) == pytest.approx([1e-4, 1e-3, 1e-2])
    model.compile(optimizer, "sparse_categorical_crossentropy")
    x, y = _data()
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=1, batch_size=16, verbose=0, max_lr=0.05, guard=False
    )
    head, body = history.schedules
    assert body.max_lr == pytest.approx(0.05 / 100)


@pytest.mark.parametrize(
    "groups,lo,hi,match",
    [
        (["nothing/.*", "head/.*"], 1e-4, 1e-2, "matches no trainable variable"),
        (["body/.*|head/.*", "head/.*"], 1e-4, 1e-2, "twice"),
        (["body/.*"], 1e-4, 1e-2, "in no group"),
        ([BODY, "head/.*"], 1e-2, 1e-4, "`lo` must be <= `hi`"),
        ([BODY, "head/.*"], 0.0, 1e-2, "lo"),
        ([BODY, "head/.*"], 1e-4, -1.0, "hi"),
        ([BODY, [keras.layers.Dense(3)]], 1e-4, 1e-2, "not a layer of the model"),
        ([BODY, "head/(unclosed"], 1e-4, 1e-2, "invalid pattern"),
        ([], 1e-4, 1e-2, "non-empty"),
    ],
)
def test_discriminative_bad_input(groups, lo, hi, match):
    with pytest.raises(ValueError, match=match):
        discriminative_optimizer(_model(), groups, lo, hi)


def test_mixed_precision_around_a_multi_optimizer():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((8,))
        h = keras.layers.Dense(16, activation="relu", name="body")(inputs)
        outputs = keras.layers.Dense(3, activation="softmax", name="head", dtype="float32")(h)
        model = keras.Model(inputs, outputs)
        model.compile(_multi(momentum=0.9), "sparse_categorical_crossentropy")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        x, y = _data()
        history = onecycle.fit_one_cycle(
            model, x, y, epochs=1, batch_size=16, max_lr=0.1, verbose=0, guard=False
        )
        assert history.history[f"learning_rate/{BODY}"][-1] == pytest.approx(
            history.schedules[1].final_lr, rel=1e-2
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_the_guard_keeps_the_compiled_rate_of_every_group(monkeypatch):
    """When the guard falls back, every rate group keeps the rate it was compiled with (the user's
    discriminative rates and their ratio), not its optimizer class's default."""
    monkeypatch.setattr(onecycle.LRFinderResult, "suggest", lambda self, method="minimum": 1e4)
    x, y = _data()
    model = _compiled(_multi(body_lr=0.001, head_lr=0.03))
    model.evaluate(x[:1], y[:1], verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = onecycle.fit_one_cycle(
            model,
            x,
            y,
            epochs=1,
            batch_size=16,
            verbose=0,
            guard=True,
            find_lr_kwargs={"num_steps": 5, "verbose": 0},
        )
    assert history.guard["chose"] == "constant" and history.guard["constant_rate"] == pytest.approx(0.03)
    logged = sorted(v[-1] for k, v in history.history.items() if k.startswith("learning_rate"))
    assert logged == pytest.approx([0.001, 0.03])
