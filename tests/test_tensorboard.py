"""What TensorBoard users see: per-step rate and momentum beside the loss, and the range test's curve."""

import glob

import keras
import numpy as np
import pytest

import onecycle

tf = pytest.importorskip("tensorflow")


def _scalars(log_dir):
    """{tag: [(step, value)]} of every scalar in the event files under `log_dir`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found = {}
    for events in glob.glob(f"{log_dir}/**/events.out.tfevents.*", recursive=True):
        accumulator = EventAccumulator(events, size_guidance={"tensors": 0, "scalars": 0, "images": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["tensors"]:
            arrays = [(e.step, tf.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)]
            if all(
                a.dtype.kind == "f" and a.ndim == 0 for _, a in arrays
            ):  # scalars; not the model graph's JSON
                found.setdefault(tag, []).extend((step, float(a)) for step, a in arrays)
            elif all(a.ndim == 1 and a.size == 3 and bytes(a[2]).startswith(b"\x89PNG") for _, a in arrays):
                found[tag] = ("image", [step for step, _ in arrays])
    return found


def test_per_step_rate_and_momentum_next_to_the_loss(tiny_classifier, tmp_path):
    model, x, y = tiny_classifier()
    steps = 2 * 5  # 96 samples at batch 20: 5 batches per epoch
    schedule = onecycle.OneCycle(0.1, steps)
    momentum = schedule.momentum(0.95, 0.85)
    model.compile(onecycle.optimizers.SGD(schedule, momentum=momentum), "sparse_categorical_crossentropy")
    model.fit(
        x,
        y,
        batch_size=20,
        epochs=2,
        verbose=0,
        callbacks=[
            onecycle.ScheduleLogger(per_batch=True),
            keras.callbacks.TensorBoard(str(tmp_path), update_freq=1),
        ],
    )
    scalars = _scalars(tmp_path)
    assert {"batch_loss", "batch_learning_rate", "batch_momentum", "epoch_learning_rate"} <= set(scalars)
    rates = sorted(scalars["batch_learning_rate"])
    assert len(rates) == steps
    # the value logged after batch k is the rate the optimizer applies next, at step k + 1
    np.testing.assert_allclose([v for _, v in rates], schedule.evaluate(np.arange(1, steps + 1)), rtol=1e-5)
    np.testing.assert_allclose(
        [v for _, v in sorted(scalars["batch_momentum"])],
        momentum.evaluate(np.arange(1, steps + 1)),
        rtol=1e-5,
    )


def test_range_test_curve_in_tensorboard(tiny_classifier, tmp_path):
    model, x, y = tiny_classifier()
    result = onecycle.find_lr(model, x, y, batch_size=8, num_steps=30, verbose=0)
    assert result.to_tensorboard(tmp_path / "lr") == tmp_path / "lr"
    scalars = _scalars(tmp_path / "lr")
    np.testing.assert_allclose(
        [v for _, v in sorted(scalars["range_test/learning_rate"])], result.lrs, rtol=1e-6
    )
    np.testing.assert_allclose(
        [v for _, v in sorted(scalars["range_test/smoothed_loss"])], result.smoothed_losses, rtol=1e-5
    )
    assert scalars["range_test/curve"] == ("image", [0])
    image = result._plot_image()
    assert image.shape[-1] == 3 and image.max() == 1.0  # RGB in [0, 1]: the white of the figure is 1


def test_range_test_curve_without_tensorflow_says_what_it_needs(monkeypatch):
    import sys

    result = onecycle.LRFinderResult([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0], [1.0, 0.5, 2.0])
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` raises ImportError
    with pytest.raises(
        ImportError, match=r"^LRFinderResult.to_tensorboard needs TensorFlow to write event files$"
    ):
        result.to_tensorboard("unused")
