"""The library's numbers against independent computations: closed forms and hand-written NumPy.

Each test would fail if the code computed a wrong number (a rate, a weight, a batch, a step) while
still returning something of the right shape.
"""

import keras
import numpy as np
import pytest

import onecycle
from onecycle import find_lr, find_wd, fit_one_cycle
from onecycle.optimizers import current_momentum

OFFSET = 10.0  # keeps the loss positive and far from divergence while it falls by the sum of the rates


def _linear_probe():
    """A model whose loss is `OFFSET + w` on inputs of ones (gradient exactly 1): under plain SGD the
    weight after each step is minus the sum of the rates applied so far, and the loss of a step,
    computed before its update, reads that weight back."""
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(
        keras.optimizers.SGD(0.01),
        loss=lambda y_true, y_pred: keras.ops.mean(y_pred, axis=-1) + OFFSET,
    )
    return model, np.ones((64, 1), "float32"), np.zeros((64, 1), "float32")


@pytest.mark.parametrize("mode", ["exponential", "linear"])
def test_range_test_records_the_rates_the_optimizer_applied(mode):
    model, x, y = _linear_probe()
    result = find_lr(
        model, x, y, batch_size=16, start_lr=0.01, end_lr=1.0, num_steps=20, mode=mode, verbose=0
    )
    assert len(result.lrs) == 20 and not result.diverged
    applied = -np.diff(result.losses)  # loss_t = OFFSET - sum of the rates of steps 0..t-1
    closed_form = np.geomspace(0.01, 1.0, 20) if mode == "exponential" else np.linspace(0.01, 1.0, 20)
    np.testing.assert_allclose(applied, closed_form[:-1], rtol=2e-3)
    np.testing.assert_allclose(result.lrs, closed_form, rtol=1e-9)
    assert float(keras.ops.convert_to_numpy(model.weights[0])[0, 0]) == 0.0  # restored


def _plain_classifier(seed=0):
    """No dropout: the same weights and batch give the same loss."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(96, 8)).astype("float32")
    return model, x, (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")


def _per_sample_loss(model, x, y):
    logits = keras.ops.convert_to_numpy(model(x))
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(y)), y]


def test_range_test_applies_training_sample_weights():
    model, x, y = _plain_classifier()
    weights = np.where(y == 0, 3.0, 0.0).astype("float32")  # only class 0 counts, three times over
    result = find_lr(model, x, y, sample_weight=weights, batch_size=96, num_steps=3, end_lr=1e-6, verbose=0)
    expected = np.sum(weights * _per_sample_loss(model, x, y)) / len(y)  # Keras' "sum over batch size"
    assert result.losses[0] == pytest.approx(expected, rel=1e-5)
    unweighted = find_lr(model, x, y, batch_size=96, num_steps=3, end_lr=1e-6, verbose=0)
    assert unweighted.losses[0] == pytest.approx(np.mean(_per_sample_loss(model, x, y)), rel=1e-5)


def test_range_test_validation_sample_weights_change_the_recorded_loss():
    model, x, y = _plain_classifier()
    weights = np.linspace(0.0, 2.0, 32).astype("float32")
    result = find_lr(
        model,
        x,
        y,
        num_steps=2,
        start_lr=1e-9,
        end_lr=1e-8,
        validation_data=(x[:32], y[:32], weights),
        verbose=0,
    )
    expected = np.sum(weights * _per_sample_loss(model, x[:32], y[:32])) / 32
    assert result.losses[0] == pytest.approx(expected, rel=1e-4)
    assert not np.isclose(expected, np.mean(_per_sample_loss(model, x[:32], y[:32])), rtol=1e-3)


def test_range_test_seed_fixes_the_batch_order():
    model, x, y = _plain_classifier()
    first = find_lr(model, x, y, batch_size=8, num_steps=12, end_lr=1e-6, seed=3, verbose=0)
    again = find_lr(model, x, y, batch_size=8, num_steps=12, end_lr=1e-6, seed=3, verbose=0)
    other = find_lr(model, x, y, batch_size=8, num_steps=12, end_lr=1e-6, seed=4, verbose=0)
    np.testing.assert_array_equal(first.losses, again.losses)
    assert not np.allclose(first.losses, other.losses)
    # at rates this small each recorded loss is the loss of one batch of the initial model: the
    # 12 batches of seed 3 are a permutation of the data (one epoch), so their mean is the data's
    assert np.mean(first.losses) == pytest.approx(np.mean(_per_sample_loss(model, x, y)), rel=1e-4)


def test_weight_decay_search_gives_every_value_the_same_batches_and_start():
    model, x, y = _plain_classifier()
    model.compile(
        onecycle.optimizers.AdamW(0.001), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    # 1e-30 decays nothing a float32 can hold: the two curves differ only if the batches or the
    # starting state do
    result = find_wd(model, x, y, weight_decays=[0.0, 1e-30], batch_size=16, num_steps=40, verbose=0)
    a, b = result.results
    assert len(a.losses) == len(b.losses) > 10
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-6)


def _traced(model, x, y, **kwargs):
    """fit_one_cycle's learning rate and momentum at the start of every batch."""
    trace = {"lr": [], "momentum": []}

    class Trace(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            optimizer = self.model.optimizer
            trace["lr"].append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
            trace["momentum"].append(current_momentum(optimizer))

    history = fit_one_cycle(model, x, y, callbacks=[Trace()], verbose=0, guard=False, **kwargs)
    return history, np.array(trace["lr"]), np.array(trace["momentum"], dtype=float)


def test_fit_one_cycle_schedule_kwargs_and_momentum_pair_give_the_closed_form(tiny_classifier):
    model, x, y = tiny_classifier(n=160)  # 10 batches of 16 per epoch, 20 steps
    history, lrs, momenta = _traced(
        model,
        x,
        y,
        epochs=2,
        batch_size=16,
        max_lr=0.05,
        cycle_momentum=(0.9, 0.8),
        schedule_kwargs={
            "start_lr": 0.01,
            "final_lr": 0.001,
            "warmup_fraction": 0.5,
            "annihilation_fraction": 0.2,
        },
    )
    # 10 steps up 0.01 -> 0.05, 6 steps down to 0.01, 4 steps down to 0.001 (linear); momentum mirrors
    steps = np.arange(20)
    expected_lr = np.interp(steps, [0, 10, 16, 20], [0.01, 0.05, 0.01, 0.001])
    expected_momentum = np.interp(steps, [0, 10, 16, 20], [0.9, 0.8, 0.9, 0.9])
    np.testing.assert_allclose(lrs, expected_lr, rtol=1e-5)
    np.testing.assert_allclose(momenta, expected_momentum, rtol=1e-5)
    assert history.history["learning_rate"][-1] == pytest.approx(0.001, rel=1e-5)


def test_fit_one_cycle_without_cycled_momentum_keeps_the_compiled_momentum(tiny_classifier):
    model, x, y = tiny_classifier(onecycle.optimizers.SGD(0.01, momentum=0.9), n=160)
    _, lrs, momenta = _traced(model, x, y, epochs=2, batch_size=16, max_lr=0.05, cycle_momentum=None)
    np.testing.assert_allclose(momenta, 0.9)
    assert lrs[9] == pytest.approx(0.05, rel=1e-5)  # the peak: 45% of 20 steps


def test_fit_one_cycle_takes_the_named_suggestion(tiny_classifier):
    model, x, y = tiny_classifier()
    history = fit_one_cycle(
        model, x, y, epochs=1, suggestion="steepest", find_lr_kwargs={"num_steps": 30}, verbose=0, guard=False
    )
    assert history.schedule.max_lr == history.lr_finder.suggest("steepest")


def test_fit_one_cycle_steps_per_epoch_sizes_the_cycle(tiny_classifier):
    model, x, y = tiny_classifier(n=160)

    class Batches(keras.utils.PyDataset):  # 10 batches an epoch; steps_per_epoch=4 takes 4 of them
        def __init__(self):
            super().__init__()

        def __len__(self):
            return 10

        def __getitem__(self, i):
            return x[16 * i : 16 * (i + 1)], y[16 * i : 16 * (i + 1)]

    _, lrs, _ = _traced(
        model, Batches(), epochs=2, steps_per_epoch=4, max_lr=0.04, cycle_momentum=None, y=None
    )
    assert len(lrs) == 8
    expected = np.interp(
        np.arange(8), [0, 3.6, 7.2, 8], [0.004, 0.04, 0.004, 4e-6]
    )  # defaults: 45% up, 10% last
    np.testing.assert_allclose(lrs, expected, rtol=1e-4)


def test_fit_one_cycle_on_an_optimizer_that_already_stepped_starts_a_fresh_cycle(tiny_classifier):
    model, x, y = tiny_classifier(n=160)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # 10 steps taken
    _, lrs, momenta = _traced(model, x, y, epochs=2, batch_size=16, max_lr=0.05)
    fresh_model, _, _ = tiny_classifier(n=160)
    _, fresh_lrs, fresh_momenta = _traced(fresh_model, x, y, epochs=2, batch_size=16, max_lr=0.05)
    np.testing.assert_allclose(lrs, fresh_lrs, rtol=1e-6)  # the cycle starts at its own step 0
    np.testing.assert_allclose(momenta, fresh_momenta, rtol=1e-6)
    assert (
        lrs[0] == pytest.approx(0.005, rel=1e-5)
        and int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 30
    )


def test_schedule_values_of_each_kind_of_schedule():
    steps = np.array([0, 5, 10, 20])
    decay = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    np.testing.assert_allclose(onecycle.schedule_values(decay, steps), 0.1 * 0.5 ** (steps / 10), rtol=1e-6)
    np.testing.assert_allclose(onecycle.schedule_values(0.3, steps), [0.3] * 4)
    np.testing.assert_allclose(
        onecycle.schedule_values(lambda step: 0.01 * step, steps), 0.01 * steps, rtol=1e-6
    )
    one_cycle = onecycle.OneCycle(
        1.0, 100, start_lr=0.1, final_lr=0.001, warmup_fraction=0.3, annihilation_fraction=0.1
    )
    expected = np.interp(steps, [0, 30, 90, 100], [0.1, 1.0, 0.1, 0.001])
    np.testing.assert_allclose(onecycle.schedule_values(one_cycle, steps), expected, rtol=1e-9)


@pytest.mark.backend_independent
def test_plot_schedule_draws_the_values_at_every_step():
    import matplotlib

    matplotlib.use("Agg")
    schedule = onecycle.OneCycle(
        1.0, 10, start_lr=0.1, final_lr=0.01, warmup_fraction=0.5, annihilation_fraction=0.2
    )
    ax = onecycle.plot_schedule(schedule, 10, label="lr")
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(11))
    np.testing.assert_allclose(
        line.get_ydata(), np.interp(np.arange(11), [0, 5, 8, 10], [0.1, 1.0, 0.1, 0.01])
    )
    assert line.get_label() == "lr"


def test_install_schedule_applies_both_schedules_from_the_current_step(tiny_classifier):
    model, x, y = tiny_classifier(onecycle.optimizers.Adam(0.001), n=160)
    rate = onecycle.Piecewise([10.0], [0.002, 0.02], ["linear"])
    beta_1 = onecycle.Piecewise([10.0], [0.95, 0.85], ["linear"])
    onecycle.install_schedule(model, rate, beta_1)
    trace = {"lr": [], "beta_1": []}

    class Trace(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            trace["lr"].append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
            trace["beta_1"].append(current_momentum(self.model.optimizer))

    model.fit(x, y, batch_size=16, epochs=1, callbacks=[Trace()], verbose=0)
    np.testing.assert_allclose(trace["lr"], 0.002 + 0.0018 * np.arange(10), rtol=1e-5)
    np.testing.assert_allclose(trace["beta_1"], 0.95 - 0.01 * np.arange(10), rtol=1e-5)
