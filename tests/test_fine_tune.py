"""fine_tune: the head on a frozen base, then everything with discriminative rates; bad input."""

import keras
import numpy as np
import pytest

import onecycle

pytestmark = pytest.mark.skipif(
    not hasattr(keras.optimizers, "MultiOptimizer"),
    reason="this Keras has no MultiOptimizer (3.15 and newer)",
)


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    base = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(16, activation="relu"),
        ],
        name="base",
    )
    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(base(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(
        onecycle.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model, base


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = ((x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5)).astype("int32")
    return x, y


class _BaseWatch(keras.callbacks.Callback):
    """The base's first kernel at the start and the end of each `fit`."""

    def __init__(self, base):
        super().__init__()
        self.base, self.stages = base, []

    def _kernel(self):
        return np.array(keras.ops.convert_to_numpy(self.base.layers[0].kernel))

    def on_train_begin(self, logs=None):
        self.stages.append([self._kernel()])

    def on_train_end(self, logs=None):
        self.stages[-1].append(self._kernel())


@pytest.mark.parametrize("by_name", [False, True])
def test_frozen_head_then_discriminative_everything(by_name):
    model, base = _model()
    x, y = _data()
    bn = base.layers[1]
    moving_mean = np.array(keras.ops.convert_to_numpy(bn.moving_mean))
    watch = _BaseWatch(base)
    result = onecycle.fine_tune(
        model,
        x,
        y,
        base_model="base" if by_name else base,
        epochs=2,
        freeze_epochs=1,
        batch_size=16,
        verbose=0,
        find_lr_kwargs={"num_steps": 30},
        callbacks=[watch],
    )
    frozen, unfrozen = result.histories
    assert len(result.lr_finders) == 2 and all(
        isinstance(f, onecycle.LRFinderResult) for f in result.lr_finders
    )
    (before, after), _ = watch.stages
    np.testing.assert_array_equal(before, after)  # the base did not move while frozen
    base_group = onecycle.rate_groups(model.optimizer)[1]  # then trained, unfrozen, with its own rate
    assert int(keras.ops.convert_to_numpy(base_group.optimizer.iterations)) == 2 * 6
    assert {v.path for v in base_group.optimizer.variables if "momentum" in v.path} == {
        f"{base_group.optimizer.name}/{v.path.replace('/', '_')}_momentum" for v in base.trainable_variables
    }
    assert not bn.trainable  # batch norm stays in inference mode
    np.testing.assert_array_equal(moving_mean, keras.ops.convert_to_numpy(bn.moving_mean))
    head_schedule, base_schedule = unfrozen.schedules
    assert base_schedule.max_lr == pytest.approx(head_schedule.max_lr / 100)
    assert head_schedule.max_lr == pytest.approx(result.lr_finders[1].suggest())
    assert len(frozen.history["loss"]) == 1 and len(unfrozen.history["loss"]) == 2
    assert "accuracy" in unfrozen.history  # the model's own metrics, recompiled


def test_freeze_epochs_zero_skips_the_frozen_stage():
    model, base = _model()
    x, y = _data()
    result = onecycle.fine_tune(
        model,
        x,
        y,
        base_model=base,
        epochs=1,
        freeze_epochs=0,
        batch_size=16,
        verbose=0,
        find_lr_kwargs={"num_steps": 20},
    )
    assert len(result.histories) == 1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"base_model": keras.layers.Dense(4)}, "not part of the model"),
        ({"base_model": "no_such_layer"}, "names no layer"),
        ({"base_model": []}, "at least one layer"),
        ({"base_model": ["base", "head"]}, "nothing is left"),
        ({"base_model": "base", "epochs": 0}, "epochs"),
        ({"base_model": "base", "freeze_epochs": -1}, "freeze_epochs"),
        ({"base_model": "base", "lr_mult": 0.5}, "lr_mult"),
    ],
)
def test_bad_input(kwargs, match):
    model, _ = _model()
    x, y = _data()
    kwargs = {"epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        onecycle.fine_tune(model, x, y, verbose=0, **kwargs)
