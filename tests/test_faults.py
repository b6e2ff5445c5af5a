"""Divergence and mixed precision: the faults learning-rate tools are known to fail on."""

import json

import keras
import numpy as np
import pytest

import onecycle
from onecycle.experiments.cli import main


def test_diverging_training_is_marked_not_crashed(tmp_path, capsys):
    # 1e20: on JAX and PyTorch a rate of 1e6 saturates the softmax and Keras' clipped cross-entropy
    # stays finite (a dead model, not a NaN); 1e20 overflows to NaN on every backend.
    out_dir = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "digits",
                "--schedule",
                "constant-best",
                "--max-lr",
                "1e20",
                "--epochs",
                "3",
                "--seeds",
                "1",
                "--subset",
                "200",
                "--verbose",
                "0",
                "--out",
                str(out_dir),
            ]
        )
        == 0
    )
    results = json.loads((out_dir / "results.json").read_text())
    (run,) = results["runs"]
    assert run["diverged_step"] is not None and len(run["epochs"]) == 1
    (row,) = results["summary"]
    assert row["diverged_runs"] == 1 and row["diverged_steps"] == [run["diverged_step"]]
    assert f"1 (steps [{run['diverged_step']}])" in (out_dir / "report.md").read_text()


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def _mixed_model(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax", dtype="float32"),
        ]
    )
    model.compile(optimizer, "sparse_categorical_crossentropy")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    return model


def test_mixed_precision_skipped_steps_do_not_advance_the_schedule(mixed_precision):
    schedule = onecycle.OneCycle(0.05, 40)
    model = _mixed_model(onecycle.optimizers.SGD(schedule, momentum=schedule.momentum()))
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    y = np.zeros(64, "int32")
    x_huge = np.full((16, 8), 6e4, "float32")  # float16 overflow: non-finite gradients, the step is skipped
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    inner = model.optimizer.inner_optimizer
    before = int(keras.ops.convert_to_numpy(inner.iterations))
    model.fit(x_huge, y[:16], batch_size=16, epochs=1, verbose=0)
    assert int(keras.ops.convert_to_numpy(inner.iterations)) == before
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[onecycle.ScheduleLogger()])
    steps = int(keras.ops.convert_to_numpy(inner.iterations))
    assert history.history["learning_rate"][0] == pytest.approx(float(schedule.evaluate(steps)), rel=1e-5)
    assert history.history["momentum"][0] == pytest.approx(
        float(schedule.momentum().evaluate(steps)), rel=1e-5
    )


def test_mixed_precision_finder_restores_everything(mixed_precision):
    model = _mixed_model(onecycle.optimizers.SGD(0.01, momentum=0.9))
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, 64).astype("int32")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    state = lambda: [
        np.array(keras.ops.convert_to_numpy(v.value)) for v in model.variables + model.optimizer.variables
    ]
    before = state()
    result = onecycle.find_lr(model, x, y, batch_size=16, num_steps=30, start_lr=1e-3, end_lr=1e5, verbose=0)
    assert result.diverged and len(result.lrs) < 30  # rates up to 1e5 blow the loss up
    for a, b in zip(before, state(), strict=True):
        np.testing.assert_array_equal(a, b)
