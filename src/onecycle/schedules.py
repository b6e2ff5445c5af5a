"""Keras schedules built on `curves.piecewise`: the general piecewise schedule and 1cycle."""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from numpy.typing import ArrayLike

from onecycle import checks, keras_internals
from onecycle.curves import NUMPY_OPS, SCALAR_OPS, SHAPES, piecewise


def _eager_torch_step(step):
    """The step as a Python int when PyTorch runs the train step eagerly, else None."""
    if keras.backend.backend() != "torch":
        return None
    import torch

    value = step.value if keras_internals.is_variable(step) else step
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not torch.compiler.is_compiling():
        return int(value.item())
    return None


CYCLE_MOMENTUM = (0.95, 0.85)  # (high, low): Smith's cyclical momentum, the default everywhere


@keras.saving.register_keras_serializable(package="onecycle")
class Piecewise(keras.optimizers.schedules.LearningRateSchedule):
    """A schedule made of consecutive phases, each interpolating between two values.

    Phase `i` runs from step `boundaries[i - 1]` (0 for the first phase) to step `boundaries[i]` and
    moves from `values[i]` to `values[i + 1]` with `shapes[i]` ("linear", "cosine", "exponential" or
    "sqrt": the square root of the position, the 1-sqrt cooldown of warmup-stable-decay).
    Boundaries may be fractional. Steps past the last boundary hold the last value. A phase that
    ends no later than the one before it is skipped (the rule of PyTorch's `OneCycleLR` for very
    short runs).

    Usable as a learning rate and, through `onecycle.optimizers`, as a momentum or `beta_1`.

    Args:
        boundaries: the step at which each phase ends.
        values: the value at step 0 and at the end of each phase (one more than `boundaries`).
        shapes: one interpolation shape per phase.
        name: a name for the schedule.
    """

    def __init__(
        self,
        boundaries: Sequence[float],
        values: Sequence[float],
        shapes: Sequence[str],
        name: str = "Piecewise",
    ):
        super().__init__()
        boundaries, values, shapes = list(boundaries), list(values), list(shapes)
        if not boundaries:
            raise ValueError(
                f"Argument `boundaries` must hold at least one phase end. Received: boundaries={boundaries}"
            )
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "Argument `values` must hold one more value than `boundaries`. "
                f"Received: values={values} for boundaries={boundaries}"
            )
        if len(shapes) != len(boundaries):
            raise ValueError(
                f"Argument `shapes` must hold one shape per phase. Received: shapes={shapes} for boundaries={boundaries}"
            )
        self.boundaries = [checks.finite_float("boundaries", b) for b in boundaries]
        self.values = [checks.float_in("values", v, 0.0, float("inf"), high_open=True) for v in values]
        self.shapes = [checks.one_of("shape", s, SHAPES) for s in shapes]
        for i, shape in enumerate(self.shapes):
            if shape == "exponential" and min(self.values[i], self.values[i + 1]) <= 0:
                raise ValueError(
                    "An exponential phase needs values > 0 at both ends. "
                    f"Received: values={self.values}, shapes={self.shapes}"
                )
        self.name = name

    def __call__(self, step):
        eager_step = _eager_torch_step(step)
        if eager_step is not None:
            return self._eager_value(eager_step)
        return piecewise(step, self.boundaries, self.values, self.shapes)

    def _eager_value(self, step):
        # PyTorch runs the train step eagerly: two dozen tiny tensor ops per call (and Keras reads a
        # momentum schedule once per variable) cost up to a third of a small model's step time, where
        # the same math on one Python number takes microseconds. One tensor per step, cached.
        cached = getattr(self, "_eager_cache", None)
        if cached is None or cached[0] != step:
            value = piecewise(float(step), self.boundaries, self.values, self.shapes, None, SCALAR_OPS)
            cached = (step, keras.ops.convert_to_tensor(value, "float32"))
            self._eager_cache = cached
        return cached[1]

    def evaluate(self, steps: ArrayLike, dtype: str = "float64") -> np.ndarray:
        """The schedule at `steps` as a NumPy array, computed in NumPy (float64 by default)."""
        try:
            steps = np.asarray(steps, dtype="float64")
        except (TypeError, ValueError):
            raise ValueError(f"Argument `steps` must be numbers. Received: steps={steps!r}") from None
        if not np.all(np.isfinite(steps)):
            raise ValueError(f"Argument `steps` must be finite. Received: steps={steps!r}")
        return piecewise(steps, self.boundaries, self.values, self.shapes, dtype, NUMPY_OPS)

    @property
    def peak_value(self) -> float:
        return max(self.values)

    @property
    def final_value(self) -> float:
        return self.values[-1]

    def shifted(self, offset: int) -> Piecewise:
        """This schedule starting at step `offset` instead of 0 (itself when `offset` is 0); for a run
        that continues an optimizer that has already taken steps. Steps before `offset` hold the first value."""
        if checks.non_negative_int("offset", offset) == 0:
            return self
        # A first phase that holds the first value up to `offset`: every phase of this schedule then
        # starts `offset` steps later, the first one included (phases start where the previous ends).
        return Piecewise(
            [float(offset), *(b + offset for b in self.boundaries)],
            [self.values[0], *self.values],
            ["linear", *self.shapes],
            name=self.name,
        )

    def momentum(self, high: float = CYCLE_MOMENTUM[0], low: float = CYCLE_MOMENTUM[1]) -> Piecewise:
        """The cyclical momentum over the same phases: `low` where this schedule peaks, `high` elsewhere.

        For 1cycle this falls from `high` to `low` while the learning rate rises, climbs back while it
        falls, and holds `high` through the final annihilation (Smith, 2018).
        """
        high = checks.float_in("high", high, 0.0, 1.0, high_open=True)
        low = checks.float_in("low", low, 0.0, 1.0, high_open=True)
        if low > high:
            raise ValueError(f"Argument `low` must be <= `high`. Received: low={low}, high={high}")
        values = [low if v == self.peak_value else high for v in self.values]
        return Piecewise(self.boundaries, values, self.shapes, name=f"{self.name}Momentum")

    def get_config(self):
        return {
            "boundaries": self.boundaries,
            "values": self.values,
            "shapes": self.shapes,
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="onecycle")
class OneCycle(Piecewise):
    """The 1cycle learning-rate policy (Smith, 2018) as a Keras schedule.

    Starts at `start_lr`, rises to `max_lr` by step `warmup_fraction * total_steps`, falls back to
    `start_lr` by step `(1 - annihilation_fraction) * total_steps`, then falls to `final_lr` at
    `total_steps` and stays there. The defaults are the schedule of Géron's "Hands-On Machine Learning"
    `OneCycleScheduler`: a linear rise and fall over 90% of training, then the last 10% down to
    `start_lr / 1000`. Evaluated from `optimizer.iterations` inside the compiled train step.

    Args:
        max_lr: the peak rate (PyTorch `max_lr`, fastai `lr_max`, optax `peak_value`).
        total_steps: number of optimizer steps in the whole run (PyTorch `total_steps`, optax
            `transition_steps`); with gradient accumulation, count every batch.
        start_lr: the first rate; default `max_lr / 10` (PyTorch `max_lr / div_factor`, fastai
            `lr_max / div`, optax `peak_value / div_factor`).
        final_lr: the last rate; default `start_lr / 1000` (PyTorch `initial_lr / final_div_factor`,
            fastai `lr_max / div_final`, optax `initial_value / final_div_factor`).
        warmup_fraction: fraction of steps spent rising (PyTorch and fastai `pct_start`, optax
            `pct_start`).
        annihilation_fraction: fraction of steps at the end spent falling from `start_lr` to
            `final_lr`. With `warmup_fraction + annihilation_fraction == 1` the rate falls straight
            from the peak, as PyTorch's two-phase policy does.
        shape: "linear" (the paper, PyTorch `anneal_strategy="linear"`), "cosine" (PyTorch's and
            fastai's default) or "exponential".

    Use `OneCycle.like_torch` and `OneCycle.like_fastai` for the exact curves of those libraries, and
    `.momentum()` for the matching cyclical momentum.
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        *,
        start_lr: float | None = None,
        final_lr: float | None = None,
        warmup_fraction: float = 0.45,
        annihilation_fraction: float = 0.1,
        shape: str = "linear",
        name: str = "OneCycle",
    ):
        max_lr = checks.positive_float("max_lr", max_lr)
        total_steps = checks.positive_int("total_steps", total_steps)
        start_lr = max_lr / 10.0 if start_lr is None else checks.positive_float("start_lr", start_lr)
        final_lr = start_lr / 1000.0 if final_lr is None else checks.positive_float("final_lr", final_lr)
        if start_lr > max_lr:
            raise ValueError(
                f"Argument `start_lr` must be <= `max_lr`. Received: start_lr={start_lr}, max_lr={max_lr}"
            )
        if final_lr > start_lr:
            raise ValueError(
                f"Argument `final_lr` must be <= `start_lr`. Received: final_lr={final_lr}, start_lr={start_lr}"
            )
        warmup_fraction = checks.float_in(
            "warmup_fraction", warmup_fraction, 0.0, 1.0, low_open=True, high_open=True
        )
        annihilation_fraction = checks.float_in(
            "annihilation_fraction", annihilation_fraction, 0.0, 1.0, low_open=True, high_open=True
        )
        if warmup_fraction + annihilation_fraction > 1.0:
            raise ValueError(
                "Arguments `warmup_fraction` and `annihilation_fraction` must sum to at most 1. "
                f"Received: warmup_fraction={warmup_fraction}, annihilation_fraction={annihilation_fraction}"
            )
        checks.one_of("shape", shape, SHAPES)
        self.max_lr, self.total_steps = max_lr, total_steps
        self.start_lr, self.final_lr = start_lr, final_lr
        self.warmup_fraction, self.annihilation_fraction, self.shape = (
            warmup_fraction,
            annihilation_fraction,
            shape,
        )
        if math.isclose(
            warmup_fraction + annihilation_fraction, 1.0
        ):  # two phases: straight down from the peak
            boundaries, values = (
                [warmup_fraction * total_steps, float(total_steps)],
                [start_lr, max_lr, final_lr],
            )
        else:
            boundaries = [
                warmup_fraction * total_steps,
                (1.0 - annihilation_fraction) * total_steps,
                float(total_steps),
            ]
            values = [start_lr, max_lr, start_lr, final_lr]
        super().__init__(boundaries=boundaries, values=values, shapes=[shape] * len(boundaries), name=name)

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "start_lr": self.start_lr,
            "final_lr": self.final_lr,
            "warmup_fraction": self.warmup_fraction,
            "annihilation_fraction": self.annihilation_fraction,
            "shape": self.shape,
            "name": self.name,
        }

    @staticmethod
    def like_torch(
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> OneCycle:
        """The learning rate of `torch.optim.lr_scheduler.OneCycleLR` with the same arguments.

        Equal to PyTorch's at every step from 0 to `total_steps - 1`; from `total_steps - 1` on it
        holds the final value, where PyTorch extrapolates (pytorch/pytorch#91765). Returns a
        `Piecewise` schedule.
        """
        max_lr = checks.positive_float("max_lr", max_lr)
        total_steps = checks.positive_int("total_steps", total_steps)
        pct_start = checks.float_in("pct_start", pct_start, 0.0, 1.0, low_open=True, high_open=True)
        shape = {"cos": "cosine", "linear": "linear"}[
            checks.one_of("anneal_strategy", anneal_strategy, ("cos", "linear"))
        ]
        initial_lr = max_lr / checks.positive_float("div_factor", div_factor)
        min_lr = initial_lr / checks.positive_float("final_div_factor", final_div_factor)
        last = float(total_steps - 1)
        if three_phase:
            boundaries = [pct_start * total_steps - 1, 2 * pct_start * total_steps - 2, last]
            values = [initial_lr, max_lr, initial_lr, min_lr]
        else:
            boundaries = [pct_start * total_steps - 1, last]
            values = [initial_lr, max_lr, min_lr]
        return Piecewise(boundaries, values, [shape] * len(boundaries), name="OneCycleLikeTorch")

    @staticmethod
    def like_fastai(
        max_lr: float, total_steps: int, pct_start: float = 0.25, div: float = 25.0, div_final: float = 1e5
    ) -> OneCycle:
        """The learning rate of fastai's `fit_one_cycle` with the same arguments (cosine, two phases)."""
        max_lr = checks.positive_float("max_lr", max_lr)
        total_steps = checks.positive_int("total_steps", total_steps)
        pct_start = checks.float_in("pct_start", pct_start, 0.0, 1.0, low_open=True, high_open=True)
        start = max_lr / checks.positive_float("div", div)
        final = max_lr / checks.positive_float("div_final", div_final)
        return Piecewise(
            [pct_start * total_steps, float(total_steps)],
            [start, max_lr, final],
            ["cosine", "cosine"],
            name="OneCycleLikeFastai",
        )
