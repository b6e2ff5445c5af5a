"""The learning-rate range test: `find_lr` and its `LRFinderResult`."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from onecycle import checks, data, restore
from onecycle import keras_internals as internals
from onecycle.files import write_json_atomically
from onecycle.groups import rate_ratios
from onecycle.schedules import Piecewise
from onecycle.suggestions import DEFAULT_METHOD, RAW_METHODS, Suggestion
from onecycle.suggestions import suggest as suggest_lr

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DEFAULT_NUM_STEPS = 200
_MODES = {"exponential": "exponential", "linear": "linear"}


@dataclasses.dataclass
class LRFinderResult:
    """The curve of a range test: the rate, the loss of each batch and its smoothed value.

    `diverged` says whether the test stopped early because the loss blew up.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    diverged: bool = False

    def __post_init__(self):
        self.lrs, self.losses, self.smoothed_losses = (
            np.asarray(a, dtype=float) for a in (self.lrs, self.losses, self.smoothed_losses)
        )
        sizes = {name: np.shape(getattr(self, name)) for name in ("lrs", "losses", "smoothed_losses")}
        if len(set(sizes.values())) != 1 or len(sizes["lrs"]) != 1:
            raise ValueError(
                f"Arguments `lrs`, `losses` and `smoothed_losses` must be 1-D of one length. Received shapes: {sizes}"
            )

    def suggestion(self, method: str = DEFAULT_METHOD) -> Suggestion:
        """The `Suggestion(lr, index)` of `method` ("valley", "steepest", "minimum" or "edge")."""
        return suggest_lr(self.lrs, self.losses if method in RAW_METHODS else self.smoothed_losses, method)

    def suggest(self, method: str = DEFAULT_METHOD) -> float:
        """The suggested maximum learning rate. Methods: "edge" (default: a tenth of the rate where a
        zero-lag running median of the raw losses climbs half-way back from its lowest point, or of
        the test's last rate when it never does; of the rules compared in the image study,
        docs/RECIPE.md, the one that moved least from seed to seed on the images), "minimum" (a tenth
        of the rate at the lowest smoothed loss, the rule of the 1cycle paper and of Géron's book;
        the default before), "steepest" (most negative slope of the smoothed loss against log rate)
        and "valley" (fastai's default)."""
        return self.suggestion(method).lr

    def plot(self, ax: Axes | None = None, method: str = DEFAULT_METHOD) -> Axes:
        """Plot the smoothed loss against the rate (log x) with the suggestion marked; returns the Axes."""
        from onecycle import plotting  # imported on first use: matplotlib stays optional

        return plotting.plot_lr_finder(self, ax=ax, method=method)

    def to_tensorboard(self, log_dir: str | os.PathLike, name: str = "range_test") -> str | os.PathLike:
        """Write the curve to a TensorBoard log directory: scalars `{name}/loss`, `{name}/smoothed_loss`
        and `{name}/learning_rate` against the step, and the plot of the loss against the rate as
        the image `{name}/curve`. Needs TensorFlow installed (as Keras' `TensorBoard` callback does),
        whatever the backend. Returns `log_dir`."""
        try:
            import tensorflow as tf
        except ImportError:
            raise ImportError("LRFinderResult.to_tensorboard needs TensorFlow to write event files") from None
        writer = tf.summary.create_file_writer(str(log_dir))
        with writer.as_default():
            for step, (lr, loss, smooth) in enumerate(zip(self.lrs, self.losses, self.smoothed_losses)):
                tf.summary.scalar(f"{name}/learning_rate", lr, step=step)
                if math.isfinite(loss):
                    tf.summary.scalar(f"{name}/loss", loss, step=step)
                if math.isfinite(smooth):
                    tf.summary.scalar(f"{name}/smoothed_loss", smooth, step=step)
            tf.summary.image(f"{name}/curve", self._plot_image()[None], step=0)
        writer.close()
        return log_dir

    def _plot_image(self):
        """The curve as an RGB array, drawn on a Figure with its own Agg canvas: the user's
        matplotlib backend and pyplot's figures are left alone."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 4), dpi=80)
        canvas = FigureCanvasAgg(figure)
        self.plot(ax=figure.add_subplot())
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3] / 255.0

    def to_dict(self) -> dict:
        return {
            "lrs": self.lrs.tolist(),
            "losses": [_json_float(v) for v in self.losses],
            "smoothed_losses": [_json_float(v) for v in self.smoothed_losses],
            "diverged": self.diverged,
        }

    @classmethod
    def from_dict(cls, record: dict) -> LRFinderResult:
        return cls(
            lrs=record["lrs"],
            losses=[np.nan if v is None else v for v in record["losses"]],
            smoothed_losses=[np.nan if v is None else v for v in record["smoothed_losses"]],
            diverged=bool(record.get("diverged", False)),
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the curve as JSON (non-finite losses as null), atomically."""
        write_json_atomically(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> LRFinderResult:
        """The result saved at `path`; `ValueError` naming the file when it is not one (truncated, other JSON)."""
        with open(path) as f:
            text = f.read()
        try:
            return cls.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{path} does not hold a saved LRFinderResult ({type(error).__name__}: {error})"
            ) from None


def _json_float(value):
    return float(value) if math.isfinite(value) else None


def find_lr(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    batch_size: int = 32,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int | None = None,
    mode: str = "exponential",
    smoothing: float = 0.98,
    divergence_threshold: float = 4.0,
    validation_data: Any = None,
    sample_weight: Any = None,
    seed: int | None = None,
    verbose: int = 1,
) -> LRFinderResult:
    """Run the learning-rate range test on a compiled model and restore it afterwards.

    Trains for `num_steps` batches (default 200, repeating the data if needed) while the learning rate
    grows from `start_lr` to `end_lr` (exponentially or linearly), records the true loss of each batch
    (not Keras' running mean) and its bias-corrected exponential moving average, and stops when the
    smoothed loss passes `divergence_threshold` times its minimum or becomes NaN/inf. With
    `validation_data`, the loss recorded after each step is the loss on that data instead (slower,
    smoother). The model's weights and the optimizer's whole state (step count, slots, learning-rate
    object) are restored bit for bit however the test ends, exceptions and Ctrl-C included.

    With a `keras.optimizers.MultiOptimizer`, every sub-optimizer sweeps at once, each scaled by the
    ratio of its rate to the largest sub-optimizer rate (for a schedule, its peak): the recorded
    rates, and the suggestion, are those of the sub-optimizer with the largest rate.

    Takes what `model.fit` takes: arrays, `tf.data.Dataset`, `keras.utils.PyDataset`, iterables of
    `(x, y)` batches. Returns an `LRFinderResult`.
    """
    global_state = restore.global_random_state()
    checks.compiled_model(model)
    batch_size = checks.positive_int("batch_size", batch_size)
    start_lr = checks.positive_float("start_lr", start_lr)
    end_lr = checks.positive_float("end_lr", end_lr)
    if start_lr >= end_lr:
        raise ValueError(
            f"Argument `start_lr` must be < `end_lr`. Received: start_lr={start_lr}, end_lr={end_lr}"
        )
    num_steps = DEFAULT_NUM_STEPS if num_steps is None else checks.positive_int("num_steps", num_steps)
    if num_steps < 2:
        raise ValueError(f"Argument `num_steps` must be at least 2. Received: num_steps={num_steps}")
    shape = _MODES[checks.one_of("mode", mode, tuple(_MODES))]
    smoothing = checks.float_in("smoothing", smoothing, 0.0, 1.0, high_open=True)
    divergence_threshold = checks.float_in(
        "divergence_threshold", divergence_threshold, 1.0, math.inf, low_open=True
    )
    checks.one_of("verbose", verbose, (0, 1, 2))
    if seed is not None:
        checks.non_negative_int("seed", seed)
    data.check_arrays(model, x, y, sample_weight)
    data.check_validation_data(model, validation_data)

    if seed is None:  # follows keras.utils.set_random_seed, and leaves NumPy's global stream as it was
        seed = int(np.random.randint(0, 2**31 - 1))
        restore.restore_global_random_state(global_state)
    stream = data.batches(x, y, sample_weight, batch_size=batch_size, seed=seed)
    first = next(stream, None)
    if first is None:
        raise ValueError("Argument `x` yielded no batches.")
    restore.build(model, first[0])
    lr_schedule = Piecewise([num_steps - 1], [start_lr, end_lr], [shape], name="RangeTest")
    snapshot = restore.Snapshot(model)
    ratios = rate_ratios(snapshot.groups) if len(snapshot.groups) > 1 else [1.0]
    try:
        for group, ratio in zip(snapshot.groups, ratios):
            sweep = Piecewise([num_steps - 1], [start_lr * ratio, end_lr * ratio], [shape], name="RangeTest")
            internals.swap_learning_rate(group.optimizer, sweep)
            internals.reset_step(group.optimizer)
        model.train_function = None
        record = _run(
            model,
            itertools.chain([first], stream),
            lr_schedule.evaluate(np.arange(num_steps)),
            smoothing,
            divergence_threshold,
            validation_data,
            batch_size,
            verbose,
        )
    finally:
        snapshot.restore()
        restore.restore_global_random_state(global_state)  # a later shuffled `fit` must not see the test
    result = LRFinderResult(*record)
    if np.count_nonzero(np.isfinite(result.smoothed_losses)) < 2:
        raise ValueError(
            "The range test yielded fewer than 2 finite points. Received: "
            f"{result.losses.size} steps with losses {result.losses.tolist()}; lower `start_lr` or check the data"
        )
    return result


def _run(model, stream, lrs, smoothing, divergence_threshold, validation_data, batch_size, verbose):
    # The rate and the smoothed loss of the current step, not Progbar's average since the start.
    progress = keras.utils.Progbar(
        len(lrs), verbose=verbose, unit_name="step", stateful_metrics=["lr", "loss"]
    )
    losses, smoothed = [], []
    average, best, diverged = 0.0, math.inf, False
    for step, (bx, by, bw) in zip(range(len(lrs)), stream):
        model.reset_metrics()  # Keras before 3.15 reports the running mean since the last reset
        loss = float(model.train_on_batch(bx, by, sample_weight=bw, return_dict=True)["loss"])
        if validation_data is not None:
            loss = _validation_loss(model, validation_data, batch_size)
        average = smoothing * average + (1 - smoothing) * loss
        value = average / (1 - smoothing ** (step + 1))
        losses.append(loss)
        smoothed.append(value)
        progress.update(step + 1, [("lr", float(lrs[step])), ("loss", value)], finalize=False)
        if not math.isfinite(value) or value > divergence_threshold * best:
            diverged = True
            break
        best = min(best, value)
    progress.update(len(losses), finalize=True)
    return lrs[: len(losses)], losses, smoothed, diverged


VALIDATION_CHUNK = 1024


def _validation_loss(model, validation_data, batch_size):
    """The mean loss on the validation data. Arrays go through `test_on_batch` in chunks: the same
    figure as `model.evaluate`, without the data pipeline that `evaluate` builds on every call (this
    runs after every step)."""
    arrays = _xy(validation_data)
    if not all(a is None or data.is_array_like(a) for a in arrays):
        x, y, weights = (*arrays, None)[:3]
        scores = model.evaluate(
            x, y, sample_weight=weights, batch_size=batch_size, verbose=0, return_dict=True
        )
        return float(scores["loss"])
    count = data.num_samples(arrays[0])
    chunk = max(batch_size, VALIDATION_CHUNK)
    total = 0.0
    for start in range(0, count, chunk):
        part = [data.rows(a, start, start + chunk) for a in arrays]
        # `test_on_batch` resets the metrics itself from Keras 3.15; before, "loss" is the running mean
        model.reset_metrics()
        loss = model.test_on_batch(*part, return_dict=True)["loss"]
        total += float(loss) * min(chunk, count - start)
    return total / count


def _xy(validation_data):
    if isinstance(validation_data, (tuple, list)):
        return tuple(validation_data) + (None,) * (2 - len(validation_data))
    return validation_data, None
