"""The weight-decay range test: one curve per value from the same state, the pair it suggests, and
everything (weights, optimizer state, weight decay) restored however it ends."""

import keras
import numpy as np
import pytest

import onecycle
from conftest import FailingData


def _state(model):
    return [
        np.array(keras.ops.convert_to_numpy(v.value)) for v in model.variables + model.optimizer.variables
    ]


def _trained(tiny_classifier, optimizer=None):
    model, x, y = tiny_classifier(optimizer)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model, x, y


def _assert_restored(model, before, weight_decay, rate):
    for a, b in zip(before, _state(model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.weight_decay == weight_decay and model.optimizer._learning_rate is rate


def test_one_curve_per_weight_decay_and_the_pair_it_suggests(tiny_classifier, tmp_path):
    model, x, y = _trained(tiny_classifier, onecycle.optimizers.AdamW(0.001, weight_decay=0.004))
    before, rate = _state(model), model.optimizer._learning_rate
    result = onecycle.find_wd(
        model,
        x,
        y,
        weight_decays=[0.0, 0.01, 1.0],
        batch_size=16,
        num_steps=40,
        validation_data=(x, y),
        verbose=0,
    )
    _assert_restored(model, before, 0.004, rate)
    assert result.weight_decays == [0.0, 0.01, 1.0] and len(result.results) == 3
    lows = [np.nanmin(r.smoothed_losses) for r in result.results]
    lr, wd = result.suggest()
    assert wd == result.weight_decays[int(np.argmin(lows))]
    assert lr == result.results[int(np.argmin(lows))].suggest()
    # a decay that large changes the curve: the tests really ran with different weight decays
    n = min(len(result.results[0].lrs), len(result.results[2].lrs))
    assert not np.allclose(result.results[0].smoothed_losses[:n], result.results[2].smoothed_losses[:n])
    import matplotlib

    matplotlib.use("Agg")
    ax = result.plot()
    assert len(ax.get_legend().get_texts()) == 3
    result.save(tmp_path / "wd.json")
    assert onecycle.WDFinderResult.from_dict(
        __import__("json").loads((tmp_path / "wd.json").read_text())
    ).weight_decays == [0.0, 0.01, 1.0]


def test_same_state_and_batches_for_every_value(tiny_classifier):
    model, x, y = tiny_classifier()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile(
        onecycle.optimizers.SGD(0.01, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )  # no dropout: no random masks
    result = onecycle.find_wd(
        model, x, y, weight_decays=[0.0, 0.0001], batch_size=16, num_steps=10, verbose=0
    )
    # at rates of 1e-7 the decay does nothing yet: both curves start on the same batch loss
    assert result.results[0].losses[0] == pytest.approx(result.results[1].losses[0], rel=1e-6)


def test_restores_after_divergence(tiny_classifier):
    model, x, y = _trained(tiny_classifier)
    before, rate = _state(model), model.optimizer._learning_rate
    result = onecycle.find_wd(
        model,
        x,
        y,
        weight_decays=[0.0, 0.1],
        batch_size=16,
        num_steps=300,
        start_lr=1e-4,
        end_lr=1e6,
        verbose=0,
    )
    assert all(r.diverged for r in result.results)
    _assert_restored(model, before, None, rate)


@pytest.mark.parametrize("error", [RuntimeError("data went away"), KeyboardInterrupt()])
def test_restores_after_exception_and_interrupt_in_the_second_value(tiny_classifier, error):
    model, x, y = _trained(tiny_classifier, onecycle.optimizers.SGD(0.01, momentum=0.9, weight_decay=0.003))
    before, rate = _state(model), model.optimizer._learning_rate
    with pytest.raises(type(error)):
        onecycle.find_wd(
            model, FailingData(x, y, error, fail_at=30), weight_decays=[0.0, 0.01], num_steps=20, verbose=0
        )
    _assert_restored(model, before, 0.003, rate)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"weight_decays": []}, "weight_decays"),
        ({"weight_decays": [0.1, -0.1]}, "weight_decays"),
        ({"weight_decays": [float("nan")]}, "weight_decays"),
        ({"weight_decays": [0.1, 0.1]}, "distinct"),
        ({"weight_decays": "0.1"}, "weight_decays"),
        ({"seed": -1}, "seed"),
        ({"num_steps": 1}, "num_steps"),
    ],
)
def test_bad_arguments(tiny_classifier, kwargs, match):
    model, x, y = tiny_classifier()
    with pytest.raises(ValueError, match=match):
        onecycle.find_wd(model, x, y, verbose=0, **kwargs)
