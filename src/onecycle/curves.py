"""Pure schedule math in `keras.ops`: two-point interpolations and one piecewise curve.

Every function here is a function of the step only. It runs inside a compiled train step on every
backend and on NumPy arrays of steps alike.
"""

import math
import types

import numpy as np
from keras import ops

# The same math in NumPy, float64, for plots, reports and exact comparisons with other libraries.
NUMPY_OPS = types.SimpleNamespace(
    cast=lambda x, dtype: np.asarray(x, dtype=dtype),
    clip=np.clip,
    cos=np.cos,
    ones_like=np.ones_like,
    power=np.power,
    where=np.where,
)

# The same math on one Python number: microseconds, for eager backends (see schedules.py).
SCALAR_OPS = types.SimpleNamespace(
    cast=lambda x, dtype: float(x),
    clip=lambda x, low, high: min(max(x, low), high),
    cos=math.cos,
    ones_like=lambda x: 1.0,
    power=math.pow,
    where=lambda condition, a, b: a if condition else b,
)

SHAPES = ("linear", "cosine", "exponential", "sqrt")


def linear_interpolate(start, end, pct, xp=ops):
    # Weighted form: exact at both ends in float32, where `start + (end - start) * pct` is not.
    return start * (1.0 - pct) + end * pct


def cosine_interpolate(start, end, pct, xp=ops):
    return end + (start - end) / 2.0 * (xp.cos(math.pi * pct) + 1.0)


def exponential_interpolate(start, end, pct, xp=ops):
    # Geometric interpolation; both ends are positive (checked by the schedules).
    return start * xp.power(end / start, pct)


def sqrt_interpolate(start, end, pct, xp=ops):
    # Moves as the square root of the position: from a peak to 0 this is the "1-sqrt" cooldown of
    # warmup-stable-decay schedules (Hägele et al., 2024), start * (1 - sqrt(pct)).
    root = xp.power(pct, 0.5)
    return start * (1.0 - root) + end * root


_INTERPOLATIONS = {
    "linear": linear_interpolate,
    "cosine": cosine_interpolate,
    "exponential": exponential_interpolate,
    "sqrt": sqrt_interpolate,
}


def piecewise(step, boundaries, values, shapes, dtype="float32", xp=ops):
    """Value at `step` of a curve made of consecutive phases.

    Phase `i` runs from `boundaries[i - 1]` (0 for the first phase) to `boundaries[i]` and moves from
    `values[i]` to `values[i + 1]` with `shapes[i]`. A step belongs to the first phase whose end it does
    not pass, or to the last phase; the position inside a phase is clipped to [0, 1], so steps before 0
    or past the last boundary hold the first or last value and nothing is ever extrapolated. Zero-length
    phases are allowed and skipped. This is the rule of `torch.optim.lr_scheduler.OneCycleLR`, which is
    why boundaries may be fractional. `xp` is `keras.ops` (default), `NUMPY_OPS` or `SCALAR_OPS`.
    """
    step = xp.cast(step, dtype)
    result = None
    phase_start = 0.0
    phase_values = []
    for i, (end, shape) in enumerate(zip(boundaries, shapes)):
        length = end - phase_start
        pct = (step - phase_start) / length if length > 0 else xp.ones_like(step)
        pct = xp.clip(pct, 0.0, 1.0)
        interpolate = _INTERPOLATIONS[shape]
        phase_values.append((end, interpolate(float(values[i]), float(values[i + 1]), pct, xp)))
        phase_start = end
    for end, value in reversed(phase_values):
        result = value if result is None else xp.where(step <= end, value, result)
    return xp.cast(result, dtype)
