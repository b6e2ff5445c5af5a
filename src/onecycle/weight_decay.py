"""The weight-decay range test: the learning-rate range test once per weight decay, from the same
state and on the same batches, and the (rate, weight decay) pair it suggests.

The 1cycle paper (Smith, 2018) tunes weight decay with a few short runs judged on validation loss;
this runs one range test per value (each a fraction of an epoch) and keeps the value whose curve
reaches the lowest smoothed loss. Pass `validation_data` to judge on validation loss, as the paper
does. Weight decay is Keras' own (`optimizer.weight_decay`, decoupled: each step multiplies the
weights by `1 - rate * weight_decay`), set on every rate group.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from onecycle import checks
from onecycle.files import write_json_atomically
from onecycle.finder import LRFinderResult, find_lr
from onecycle.groups import rate_groups
from onecycle.suggestions import DEFAULT_METHOD

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DEFAULT_WEIGHT_DECAYS = (0.0, 1e-4, 1e-3, 1e-2)


@dataclasses.dataclass
class WDFinderResult:
    """One `LRFinderResult` per weight decay, in the order tried."""

    weight_decays: list[float]
    results: list[LRFinderResult]

    def best_index(self) -> int:
        """The weight decay whose curve reaches the lowest smoothed loss (the first, on a tie)."""
        lows = [np.nanmin(r.smoothed_losses) for r in self.results]
        return int(np.argmin(lows))

    def suggest(self, method: str = DEFAULT_METHOD) -> tuple[float, float]:
        """`(learning_rate, weight_decay)`: the best weight decay and its curve's suggested rate."""
        best = self.best_index()
        return self.results[best].suggest(method), self.weight_decays[best]

    def plot(self, ax: Axes | None = None, method: str = DEFAULT_METHOD) -> Axes:
        """One smoothed curve per weight decay (log x), each curve's suggestion marked; returns the Axes."""
        from onecycle.plotting import plot_wd_finder

        return plot_wd_finder(self, ax=ax, method=method)

    def to_dict(self) -> dict:
        return {"weight_decays": self.weight_decays, "results": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, record: dict) -> WDFinderResult:
        return cls(list(record["weight_decays"]), [LRFinderResult.from_dict(r) for r in record["results"]])

    def save(self, path: str | os.PathLike) -> None:
        """Write the curves as JSON, atomically."""
        write_json_atomically(path, self.to_dict())


def _check_weight_decays(values):
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(
            f"Argument `weight_decays` must be a non-empty list of numbers >= 0. Received: {values!r}"
        )
    checked = [checks.float_in("weight_decays", v, 0.0, math.inf, high_open=True) for v in values]
    if len(set(checked)) != len(checked):
        raise ValueError(f"Argument `weight_decays` must hold distinct values. Received: {values!r}")
    return checked


def find_wd(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
    seed: int = 0,
    **find_lr_kwargs,
) -> WDFinderResult:
    """Run the learning-rate range test at each weight decay and restore the model afterwards.

    Every test starts from the model's current state (each `find_lr` restores it bit for bit) and,
    with `seed`, sees the same batches; the optimizer's weight decay is put back however the sweep
    ends, exceptions and Ctrl-C included. `find_lr_kwargs` go to every `find_lr` (`batch_size`,
    `num_steps`, `validation_data`, `verbose`, ...). Returns a `WDFinderResult`; its `suggest()` is
    the `(learning_rate, weight_decay)` pair to train with.
    """
    checks.compiled_model(model)
    weight_decays = _check_weight_decays(weight_decays)
    checks.non_negative_int("seed", seed)
    groups = rate_groups(model.optimizer)
    saved = [g.optimizer.weight_decay for g in groups]
    results = []
    try:
        for wd in weight_decays:
            for group in groups:
                group.optimizer.weight_decay = wd  # read when the train step is traced; find_lr retraces
            results.append(find_lr(model, x, y, seed=seed, **find_lr_kwargs))
    finally:
        for group, wd in zip(groups, saved):
            group.optimizer.weight_decay = wd
        model.train_function = None
    return WDFinderResult(weight_decays, results)
