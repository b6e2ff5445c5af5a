"""The statistics every table uses: means with sample standard deviations (ddof=1) and paired
differences over seeds with their standard error and a verdict.

A seed gives every arm the same initial weights and the same data order, so two arms run on the
same seeds are compared seed by seed: the difference per seed, its mean, its sample standard
deviation and standard error. "beats" / "loses" only when the mean difference is more than two
standard errors from zero; otherwise "tie".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np


def higher_is_better(metric: str) -> bool:
    return metric == "accuracy"


def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None]:
    """(mean, sample standard deviation) of the finite values; std is None with fewer than 2."""
    values = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None, None
    std = float(np.std(values, ddof=1)) if values.size > 1 else None
    return float(np.mean(values)), std


@dataclasses.dataclass
class Paired:
    """`a - b` over the seeds both arms ran, oriented so that a positive `gain` means `a` is better."""

    seeds: list
    mean: float
    std: float
    se: float
    gain: float
    verdict: str  # "beats", "loses", "tie", or "n/a" with fewer than 2 shared seeds

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def paired(a_by_seed: dict[int, float | None], b_by_seed: dict[int, float | None], metric: str) -> Paired:
    """The paired difference of two arms' values (dicts seed -> value, None for a diverged run)."""
    seeds = sorted(
        s for s in a_by_seed if s in b_by_seed and a_by_seed[s] is not None and b_by_seed[s] is not None
    )
    diffs = np.array([a_by_seed[s] - b_by_seed[s] for s in seeds], dtype=float)
    if diffs.size == 0:
        return Paired(seeds, math.nan, math.nan, math.nan, math.nan, "n/a")
    mean = float(diffs.mean())
    gain = mean if higher_is_better(metric) else -mean
    if diffs.size < 2:
        return Paired(seeds, mean, math.nan, math.nan, gain, "n/a")
    std = float(diffs.std(ddof=1))
    se = std / math.sqrt(diffs.size)
    verdict = "beats" if gain > 2 * se else "loses" if gain < -2 * se else "tie"
    return Paired(seeds, mean, std, se, gain, verdict)
