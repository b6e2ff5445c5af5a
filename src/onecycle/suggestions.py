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

DEFAULT_METHOD = "minimum"


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


METHODS = {"valley": valley, "steepest": steepest, "minimum": minimum}


def suggest(
    lrs: ArrayLike, losses: ArrayLike, method: str = DEFAULT_METHOD, skip_start: float = 0.1
) -> Suggestion:
    """The suggestion of `method` on the finite points of a curve, after its first `skip_start` part.

    The first points of a range test sit at rates too small to move the loss; like fastai, the first
    10% are left out. Raises `ValueError` when fewer than 2 finite points remain.
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
    finite = finite[int(skip_start * finite.size) :] if finite.size * (1 - skip_start) >= 2 else finite
    lr, index = METHODS[method](lrs[finite], losses[finite])
    return Suggestion(lr, int(finite[index]))
