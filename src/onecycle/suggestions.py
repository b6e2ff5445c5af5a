"""Learning-rate suggestions from a range-test curve. NumPy only.

Every method takes the rates and the smoothed losses of a range test and returns a `Suggestion`: the
rate to use and the index of the point to mark on the curve.
"""

from __future__ import annotations

import collections

import numpy as np
from numpy.typing import ArrayLike

from onecycle import checks

Suggestion = collections.namedtuple("Suggestion", ["lr", "index"])

# The image study chose it for moving least from seed to seed (docs/RECIPE.md, "The image study");
# "minimum" was the default before.
DEFAULT_METHOD = "edge"


def minimum(lrs, losses):
    """A tenth of the rate at the lowest loss: the rule of the 1cycle paper and of Géron's book."""
    index = int(np.argmin(losses))
    return Suggestion(float(lrs[index]) / 10.0, index)


def steepest(lrs, losses):
    """The rate where the loss falls fastest against log(rate), up to the lowest loss (fastai "steep")."""
    end = int(np.argmin(losses)) + 1
    if end < 2:
        return Suggestion(float(lrs[0]), 0)
    slopes = np.gradient(losses[:end], np.log10(lrs[:end]))
    index = int(np.argmin(slopes))
    return Suggestion(float(lrs[index]), index)


def valley(lrs, losses):
    """fastai's default: the longest stretch over which the loss keeps falling, two thirds down it.

    The longest decreasing subsequence of the losses marks the valley; the suggestion sits at
    `start + length/3 + length/6`, as in `fastai.callback.schedule.valley`.
    """
    n = len(losses)
    run = np.ones(n, dtype=int)
    best_end = 0
    for i in range(1, n):
        earlier = np.nonzero(losses[:i] > losses[i])[0]
        if earlier.size:
            run[i] = run[earlier].max() + 1
        if run[i] > run[best_end]:
            best_end = i
    best_start = best_end - run[best_end]
    third = (best_end - best_start) / 3
    index = max(0, best_start + int(third) + int(third / 2))
    return Suggestion(float(lrs[index]), index)


HALF_WIDTH = 10  # points either side of the running median: 0.4 of a decade at 200 steps over 8 decades


def centered_median(losses: ArrayLike, half_width: int = HALF_WIDTH) -> np.ndarray:
    """The running median of the finite losses over a centered window (shorter at the ends): a
    smoothing without the lag of an exponential moving average."""
    values = np.asarray(losses, dtype=float)
    out = np.full(values.shape, np.nan)
    for i in range(values.size):
        window = values[max(0, i - half_width) : i + half_width + 1]
        window = window[np.isfinite(window)]
        if window.size:
            out[i] = np.median(window)
    return out


def edge(lrs, losses, climb=0.5, cap=None):
    """A tenth of the rate at the curve's edge, on the raw losses of every batch.

    The edge is the first rate past the lowest point of the centered running median at which that
    median has climbed back a fraction `climb` (half-way by default) from its lowest value to its
    start (the median of the first 10% of the losses), or to `cap` times its lowest value when that
    comes first (`None`: no cap); the last rate of the test when it never does (a network with batch
    norm whose loss stays bounded). Chosen with its defaults in the image study (docs/RECIPE.md) for
    moving least from seed to seed: where the lowest point of a flat valley wanders, the climb out
    of it does not. Other `climb` and `cap` values are the study's later candidates."""
    curve = centered_median(losses)
    low = int(np.nanargmin(curve))
    start = float(np.nanmedian(np.asarray(losses, dtype=float)[: max(1, len(losses) // 10)]))
    level = curve[low] + climb * (start - curve[low])
    if cap is not None:
        level = min(level, cap * curve[low])
    above = np.nonzero(curve[low:] >= level)[0]
    index = low + int(above[0]) if above.size else len(lrs) - 1
    return Suggestion(float(lrs[index]) / 10.0, index)


METHODS = {"valley": valley, "steepest": steepest, "minimum": minimum, "edge": edge}
RAW_METHODS = ("edge",)  # methods that read the raw losses of every batch (they smooth without lag)


def suggest(
    lrs: ArrayLike, losses: ArrayLike, method: str = DEFAULT_METHOD, skip_start: float = 0.1
) -> Suggestion:
    """The suggestion of `method` on the finite points of a curve, after its first `skip_start` part.

    `losses`: the smoothed losses for "minimum", "steepest" and "valley"; the raw loss of every batch
    for "edge" (`RAW_METHODS`), which smooths them itself and reads the whole curve (its start is
    the level it measures the climb against; `skip_start` does not apply). The first points of a
    range test sit at rates too small to move the loss; like fastai, the other methods leave out the
    first 10%. Raises `ValueError` when fewer than 2 finite points remain.
    """
    checks.one_of("method", method, tuple(METHODS))
    skip_start = checks.float_in("skip_start", skip_start, 0.0, 1.0, high_open=True)
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    if lrs.ndim != 1 or lrs.shape != losses.shape:
        raise ValueError(
            f"Arguments `lrs` and `losses` must be 1-D of one length. Received shapes: {lrs.shape} and {losses.shape}"
        )
    if np.any(lrs[np.isfinite(lrs)] <= 0):
        raise ValueError(f"Argument `lrs` must hold rates > 0. Received: smallest rate {np.nanmin(lrs)}")
    finite = np.nonzero(np.isfinite(losses) & np.isfinite(lrs))[0]
    if finite.size < 2:
        raise ValueError(
            f"A suggestion needs at least 2 finite points on the curve. Received: {finite.size} of {losses.size}"
        )
    if method not in RAW_METHODS and finite.size * (1 - skip_start) >= 2:
        finite = finite[int(skip_start * finite.size) :]
    lr, index = METHODS[method](lrs[finite], losses[finite])
    return Suggestion(lr, int(finite[index]))
