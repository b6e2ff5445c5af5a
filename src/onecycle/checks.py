"""Argument checks shared by the public API. Messages follow Keras: what was expected, what was received."""

import math
import numbers


def is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Argument `{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def non_negative_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"Argument `{name}` must be an integer >= 0. Received: {name}={value!r}")
    return int(value)


def boolean(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"Argument `{name}` must be True or False. Received: {name}={value!r}")
    return value


def positive_float(name, value):
    if not is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"Argument `{name}` must be a finite number > 0. Received: {name}={value!r}")
    return float(value)


def finite_float(name, value):
    if not is_real(value) or not math.isfinite(value):
        raise ValueError(f"Argument `{name}` must be a finite number. Received: {name}={value!r}")
    return float(value)


def float_in(name, value, low, high, *, low_open=False, high_open=False):
    """A finite float in the interval [low, high]; either end may be open."""
    ok = is_real(value) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"Argument `{name}` must be in {interval}. Received: {name}={value!r}")
    return float(value)


def schedule_or_float(name, value, high=math.inf):
    """A schedule (any callable of the step, Keras schedules included) or a finite float in [0, high)."""
    if callable(value):
        return value
    return float_in(name, value, 0.0, high, high_open=True)


def one_of(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Argument `{name}` must be one of {', '.join(map(repr, choices))}. Received: {name}={value!r}"
        )
    return value


def compiled_model(model):
    """`model` when it is a `keras.Model` compiled with an optimizer, else `ValueError`."""
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"Argument `model` must be a keras.Model. Received: model={model!r}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            "Argument `model` must be compiled with an optimizer before the range test. "
            "Received: an uncompiled model"
        )
    return model
