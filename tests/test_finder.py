import json

import keras
import numpy as np
import pytest

import onecycle
from conftest import FailingData
from onecycle import LRFinderResult, find_lr


def _state(model):
    return [
        np.array(keras.ops.convert_to_numpy(v.value)) for v in model.variables + model.optimizer.variables
    ]


def _assert_restored(model, before, lr_object):
    after = _state(model)
    assert len(after) == len(before)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer._learning_rate is lr_object


def _trained(tiny_classifier, optimizer=None):
    model, x, y = tiny_classifier(optimizer)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # momentum slots and step count are non-zero
    return model, x, y


def test_records_true_batch_loss_and_restores(tiny_classifier):
    model, x, y = _trained(tiny_classifier)
    before, lr_object = _state(model), model.optimizer._learning_rate
    result = find_lr(model, x, y, batch_size=16, num_steps=30, end_lr=1e-3, verbose=0)
    _assert_restored(model, before, lr_object)
    assert (
        len(result.lrs) == 30
        and result.lrs[0] == pytest.approx(1e-7)
        and result.lrs[-1] == pytest.approx(1e-3)
    )
    # at tiny rates the weights barely move, so every batch loss is that batch's own loss, not a running mean
    first = model.evaluate(x, y, verbose=0)
    assert np.std(result.losses) > 0
    assert abs(np.mean(result.losses) - first) < 0.2


def test_each_recorded_loss_is_one_batch_loss_on_every_keras():
    # Keras before 3.15 returns from `train_on_batch` the running mean since the last reset; at zero
    # weights and a rate too small to move them, every batch loss is 100 * (tens in the batch) / 16
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(keras.optimizers.SGD(), "mse")
    x = np.ones((160, 3), "float32")
    y = 10.0 * np.random.default_rng(0).integers(0, 2, (160, 1)).astype("float32")
    result = find_lr(model, x, y, batch_size=16, num_steps=30, start_lr=1e-8, end_lr=1e-7, seed=0, verbose=0)
    tens = np.asarray(result.losses) / (100 / 16)
    np.testing.assert_allclose(tens, np.round(tens), atol=1e-3)
    assert len(set(np.round(tens))) > 2


def test_divergence_stops_and_restores(tiny_classifier):
    model, x, y = _trained(tiny_classifier)
    before, lr_object = _state(model), model.optimizer._learning_rate
    result = find_lr(model, x, y, batch_size=16, num_steps=300, start_lr=1e-4, end_lr=1e6, verbose=0)
    assert result.diverged and len(result.lrs) < 300
    _assert_restored(model, before, lr_object)
    assert np.isfinite(result.suggest()) and result.suggest() > 0


@pytest.mark.parametrize("error", [RuntimeError("data went away"), KeyboardInterrupt()])
def test_exception_and_interrupt_restore_state(tiny_classifier, error):
    schedule = onecycle.OneCycle(0.05, 100)
    model, x, y = _trained(tiny_classifier, onecycle.optimizers.Adam(schedule, beta_1=schedule.momentum()))
    before, lr_object = _state(model), model.optimizer._learning_rate
    with pytest.raises(type(error)):
        find_lr(model, FailingData(x, y, error), num_steps=20, verbose=0)
    _assert_restored(model, before, lr_object)
    assert isinstance(model.optimizer._learning_rate, onecycle.OneCycle)


def test_accepts_tf_dataset_and_repeats_it(tiny_classifier):
    tf = pytest.importorskip("tensorflow")
    model, x, y = tiny_classifier()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)  # 3 batches, 40 steps
    result = find_lr(model, dataset, num_steps=40, end_lr=1e-2, verbose=0)
    assert len(result.lrs) == 40


def test_validation_data_is_recorded_instead(tiny_classifier):
    model, x, y = tiny_classifier()
    result = find_lr(model, x, y, num_steps=10, end_lr=1e-5, validation_data=(x[:32], y[:32]), verbose=0)
    # at rates this small the validation loss barely moves from step to step
    assert np.ptp(result.losses) < 1e-2


def test_validation_data_with_sample_weights_or_as_a_dataset(tiny_classifier):
    model, x, y = tiny_classifier()
    weights = np.ones(32, "float32")
    with_weights = find_lr(model, x, y, num_steps=5, validation_data=(x[:32], y[:32], weights), verbose=0)
    plain = find_lr(model, x, y, num_steps=5, validation_data=(x[:32], y[:32]), verbose=0)
    # the same first validation loss (later steps differ by the dropout masks drawn)
    assert with_weights.losses[0] == pytest.approx(plain.losses[0], rel=1e-5)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices((x[:32], y[:32])).batch(8)
        batched = find_lr(model, x, y, num_steps=5, validation_data=dataset, verbose=0)
        assert batched.losses[0] == pytest.approx(plain.losses[0], rel=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_validation_loss_in_chunks_is_evaluates_loss(tiny_classifier, weighted):
    from onecycle import finder

    model, _, _ = tiny_classifier()
    model.fit(*tiny_classifier()[1:], epochs=1, verbose=0)  # away from the initial weights
    _, x_val, y_val = tiny_classifier(seed=1, n=2500)  # three chunks, the last one short
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.5, 2.0, size=len(y_val)).astype("float32")
    data = (x_val, y_val, weights) if weighted else (x_val, y_val)
    expected = model.evaluate(
        x_val, y_val, sample_weight=weights if weighted else None, batch_size=32, verbose=0, return_dict=True
    )["loss"]
    assert finder._validation_loss(model, data, 32) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(start_lr=0.0), "start_lr=0.0"),
        (dict(start_lr=1.0, end_lr=0.1), "start_lr=1.0"),
        (dict(num_steps=1), "num_steps=1"),
        (dict(num_steps=0), "num_steps=0"),
        (dict(mode="cubic"), "mode='cubic'"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(smoothing=1.0), "smoothing=1.0"),
        (dict(divergence_threshold=1.0), "divergence_threshold=1.0"),
    ],
)
def test_bad_arguments(tiny_classifier, kwargs, match):
    model, x, y = tiny_classifier()
    with pytest.raises(ValueError, match=match):
        find_lr(model, x, y, verbose=0, **kwargs)


def test_uncompiled_model_and_empty_data(tiny_classifier):
    model, x, y = tiny_classifier()
    with pytest.raises(ValueError, match="compiled"):
        find_lr(keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)]), x, y)
    with pytest.raises(ValueError, match="no samples"):
        find_lr(model, x[:0], y[:0])


def test_fewer_than_two_finite_points_is_an_error():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(onecycle.optimizers.SGD(0.01), "mse")
    x, y = np.ones((8, 2), "float32"), np.full((8, 1), np.nan, "float32")
    with pytest.raises(ValueError, match="y with 8 NaN"):  # arrays are checked up front
        find_lr(model, x, y, num_steps=10, verbose=0)

    def batches():  # a generator is not: the curve itself tells
        while True:
            yield x, y

    with pytest.raises(
        ValueError,
        match=r"^The range test yielded fewer than 2 finite points\. Received: 1 steps with losses \[nan\]",
    ):
        find_lr(model, batches(), num_steps=10, verbose=0)


def _curve():
    lrs = np.logspace(-5, 0, 60)
    losses = 2.0 - np.tanh((np.log10(lrs) + 2.5) * 2) * 0.8 + np.where(lrs > 0.2, (lrs - 0.2) * 30, 0)
    return LRFinderResult(lrs, losses, losses)


def test_suggestion_methods_on_a_known_curve():
    result = _curve()
    lowest = result.lrs[np.argmin(result.losses)]
    assert result.suggest("minimum") == pytest.approx(lowest / 10)
    assert result.suggest("steepest") == pytest.approx(10**-2.5, rel=0.25)
    assert 1e-4 < result.suggest("valley") < lowest
    assert result.suggest() == result.suggest("edge")  # the default (docs/RECIPE.md, the image study)
    with pytest.raises(ValueError, match="method='nope'"):
        result.suggest("nope")


def test_save_load_and_plot(tmp_path, capsys):
    result = _curve()
    result.losses[-1] = np.nan
    path = tmp_path / "curve.json"
    result.save(path)
    assert json.loads(path.read_text())["losses"][-1] is None
    loaded = LRFinderResult.load(path)
    np.testing.assert_array_equal(loaded.lrs, result.lrs)
    import matplotlib

    matplotlib.use("Agg")
    ax = loaded.plot()
    assert ax.get_xscale() == "log" and any("suggested" in t.get_text() for t in ax.get_legend().get_texts())
    assert capsys.readouterr().out == ""


def test_linear_mode_records_evenly_spaced_rates(tiny_classifier):
    model, x, y = tiny_classifier()
    result = onecycle.find_lr(
        model, x, y, num_steps=12, start_lr=0.001, end_lr=0.012, mode="linear", verbose=0
    )
    expected = np.linspace(0.001, 0.012, 12)[: len(result.lrs)]  # the closed form, not the code's helper
    np.testing.assert_allclose(result.lrs, expected, rtol=1e-6)


def test_smoothing_and_divergence_match_a_hand_computation(tiny_classifier):
    model, x, y = tiny_classifier()
    result = onecycle.find_lr(
        model, x, y, num_steps=60, smoothing=0.9, divergence_threshold=1.5, end_lr=1e3, verbose=0
    )
    average, expected = 0.0, []
    for i, loss in enumerate(result.losses):
        average = 0.9 * average + 0.1 * loss
        expected.append(average / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(result.smoothed_losses, expected, rtol=1e-9)
    assert result.diverged and len(result.losses) < 60
    last, before = result.smoothed_losses[-1], np.asarray(result.smoothed_losses[:-1])
    assert not np.isfinite(last) or last > 1.5 * before.min()  # the step that stopped it crossed the line
    for i in range(1, len(before)):
        assert before[i] <= 1.5 * before[:i].min()  # no earlier step did


def test_seedless_range_test_is_reproducible_under_set_random_seed_and_leaves_no_trace(tiny_classifier):
    import random

    curves, untouched = [], []
    for _ in range(2):
        model, x, y = tiny_classifier(seed=3)
        python_before, numpy_before = random.getstate(), np.random.get_state()[1].copy()
        curves.append(onecycle.find_lr(model, x, y, num_steps=30, verbose=0).losses)
        untouched.append(
            random.getstate() == python_before and np.array_equal(np.random.get_state()[1], numpy_before)
        )
    np.testing.assert_array_equal(curves[0], curves[1])
    assert all(untouched)


def test_a_shuffled_fit_after_the_range_test_sees_the_same_data_order(tiny_classifier):
    """find_lr puts back the global random streams Keras' `fit` shuffles from; compared with a model
    that ran one `evaluate` (which builds the compiled metrics, as the range test does)."""
    plain, x, y = tiny_classifier(seed=5)
    plain.evaluate(x[:1], y[:1], verbose=0)
    plain.fit(x, y, batch_size=16, epochs=1, verbose=0)
    tested, x, y = tiny_classifier(seed=5)
    tested.evaluate(x[:1], y[:1], verbose=0)
    onecycle.find_lr(tested, x, y, num_steps=15, verbose=0)
    tested.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for a, b in zip(plain.get_weights(), tested.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_curve_image_leaves_the_users_matplotlib_backend_alone(tiny_classifier):
    import matplotlib

    model, x, y = tiny_classifier()
    result = onecycle.find_lr(model, x, y, num_steps=20, verbose=0)
    before = matplotlib.get_backend()
    matplotlib.use("pdf")
    try:
        image = result._plot_image()
        assert matplotlib.get_backend() == "pdf"
    finally:
        matplotlib.use(before)
    assert image.shape == (320, 480, 3) and 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0


def test_a_record_keeps_its_divergence_and_the_plot_its_rule():
    result = _curve()
    for diverged in (True, False):
        assert LRFinderResult.from_dict({**result.to_dict(), "diverged": diverged}).diverged is diverged
    older = {k: v for k, v in result.to_dict().items() if k != "diverged"}  # written before the field
    assert LRFinderResult.from_dict(older).diverged is False
    from matplotlib.figure import Figure

    ax = result.plot(ax=Figure().add_subplot(), method="minimum")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"suggested (minimum): {result.suggest('minimum'):.3g}" in labels


def test_validation_loss_of_a_dataset_goes_through_evaluate_quietly(tiny_classifier, capsys):
    """Validation data that are not arrays (a `keras.utils.PyDataset` here) are evaluated by
    `model.evaluate`, in silence."""
    from onecycle import finder

    class Batches(keras.utils.PyDataset):
        def __init__(self, x, y):
            super().__init__()
            self.x, self.y = x, y

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return self.x[100 * i : 100 * (i + 1)], self.y[100 * i : 100 * (i + 1)]

    model, _, _ = tiny_classifier()
    _, x_val, y_val = tiny_classifier(seed=1, n=300)
    expected = model.evaluate(x_val, y_val, verbose=0, return_dict=True)["loss"]
    assert finder._validation_loss(model, Batches(x_val, y_val), 32) == pytest.approx(expected, rel=1e-5)
    assert capsys.readouterr().out == ""


def test_each_rule_reads_its_own_curve():
    """`minimum`, `steepest` and `valley` read the smoothed losses, `edge` the raw ones: a result
    whose two curves have their lowest points at different rates."""
    lrs = np.logspace(-4, 0, 9)
    raw = np.array([2.0, 1.9, 1.0, 1.8, 1.9, 2.0, 3.0, 5.0, 9.0])  # one lucky batch at 1e-3
    smooth = np.array([2.0, 1.95, 1.7, 1.6, 1.5, 1.7, 2.5, 4.0, 7.0])  # lowest at 1e-2
    result = LRFinderResult(lrs, raw, smooth)
    assert result.suggest("minimum") == pytest.approx(lrs[4] / 10)
    assert result.suggestion("minimum").index == 4


def test_a_saved_divergence_is_read_back(tmp_path):
    result = _curve()
    result.diverged = True
    result.save(tmp_path / "curve.json")
    assert LRFinderResult.load(tmp_path / "curve.json").diverged is True


def test_the_defaults_are_batches_of_32_and_a_sweep_to_10(tiny_classifier):
    model, x, y = tiny_classifier()
    default = find_lr(model, x, y, num_steps=5, seed=3, verbose=0)
    explicit = find_lr(model, x, y, batch_size=32, end_lr=10.0, num_steps=5, seed=3, verbose=0)
    np.testing.assert_array_equal(default.losses, explicit.losses)
    np.testing.assert_allclose(default.lrs[:2], [1e-7, 1e-5], rtol=1e-6)  # 1e-7 to 10 in 4 steps of 100x
    other = find_lr(model, x, y, batch_size=33, num_steps=5, seed=3, verbose=0)
    assert not np.allclose(default.losses, other.losses)


def test_the_progress_bar_shows_the_rate_and_the_smoothed_loss(tiny_classifier, capsys):
    """The last line shows the last step's rate and smoothed loss (not averages since the start),
    once, also when the test stops early; the default shows the bar."""
    model, x, y = tiny_classifier()
    result = find_lr(model, x, y, batch_size=16, num_steps=4, end_lr=0.5, verbose=2)
    out = capsys.readouterr().out
    assert "lr: 0.5000" in out and f"loss: {result.smoothed_losses[-1]:.4f}" in out and out.count("4/4") == 1
    result = find_lr(model, x, y, batch_size=16, num_steps=50, start_lr=0.1, end_lr=1e6, verbose=2)
    out = capsys.readouterr().out
    assert result.diverged and out.count(f"{len(result.lrs)}/50") == 1
    find_lr(model, x, y, batch_size=16, num_steps=4)
    out = capsys.readouterr().out
    assert "━" in out and "/step" in out  # verbose=1: a bar, and the time per step
    find_lr(model, x, y, batch_size=16, num_steps=4, verbose=2)
    out = capsys.readouterr().out
    assert "lr: " in out and "loss: " in out and "4/4" in out


def test_data_that_yield_no_batches_are_named(tiny_classifier):
    model, _, _ = tiny_classifier()
    with pytest.raises(ValueError, match="Argument `x` yielded no batches"):
        find_lr(model, (batch for batch in []), verbose=0)
