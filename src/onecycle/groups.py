"""Rate groups: the optimizers of a model that each hold a learning rate, and discriminative rates.

A plain optimizer (or a `LossScaleOptimizer` around one) is one group. A
`keras.optimizers.MultiOptimizer` is one group per sub-optimizer: the `OptimizerMap`'s default
optimizer first, under the key None, then the others under their variable-path pattern. The range
test, `fit_one_cycle` and `ScheduleLogger` work on every group: the range test sweeps all of them
together, each scaled by its rate's ratio to the largest (for a schedule, its peak).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from onecycle import checks
from onecycle import keras_internals as internals
from onecycle.optimizers import SGD, inner_optimizer, with_rate


@dataclasses.dataclass
class RateGroup:
    """One optimizer that holds a learning rate; `key` is its `OptimizerMap` pattern (None for the
    default optimizer or a plain optimizer)."""

    key: str | None
    optimizer: keras.optimizers.Optimizer

    def log_name(self, what: str) -> str:
        """The log key of this group's `what` ("learning_rate" or "momentum")."""
        return what if self.key is None else f"{what}/{self.key}"


def is_multi_optimizer(optimizer) -> bool:
    """Whether `optimizer` is a `keras.optimizers.MultiOptimizer` (never before Keras 3.15, which
    has none)."""
    multi = getattr(keras.optimizers, "MultiOptimizer", None)
    return multi is not None and isinstance(optimizer, multi)


def rate_groups(optimizer: keras.optimizers.Optimizer) -> list[RateGroup]:
    """The rate groups of an optimizer, the default (or only) one first."""
    optimizer = inner_optimizer(optimizer)
    if not is_multi_optimizer(optimizer):
        return [RateGroup(None, optimizer)]
    mapping = internals.optimizer_map(optimizer)
    default = getattr(mapping, "default_optimizer", None)
    keys = {}
    if isinstance(mapping, keras.optimizers.OptimizerMap):
        for pattern in mapping:
            keys.setdefault(id(mapping[pattern]), pattern)
    groups = []
    for index, sub in enumerate(optimizer.optimizers):
        key = None if sub is default else keys.get(id(sub), str(index))
        groups.append(RateGroup(key, sub))
    if default is None:
        groups[0].key = None
    return sorted(groups, key=lambda g: g.key is not None)


def nominal_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The rate an optimizer was given: the float, or a schedule's peak (its value at step 0 for a
    schedule that has no `peak_value`)."""
    rate = internals.learning_rate(optimizer)
    if hasattr(rate, "peak_value"):
        return float(rate.peak_value)
    if callable(rate):
        return float(ops.convert_to_numpy(rate(0)))
    return float(ops.convert_to_numpy(rate))


def rate_ratios(groups: Sequence[RateGroup]) -> list[float]:
    """Each group's nominal rate divided by the largest."""
    rates = [nominal_rate(g.optimizer) for g in groups]
    top = max(rates)
    if not (math.isfinite(top) and top > 0):
        raise ValueError(f"The optimizers' learning rates must be finite and > 0. Received: {rates}")
    return [r / top for r in rates]


def _layer_patterns(layers):
    """Exact-path patterns for the variables of `layers`."""
    paths = [v.path for layer in layers for v in layer.weights]
    return "|".join(re.escape(p) for p in paths) if paths else None


def _group_pattern(group, model):
    if isinstance(group, str):
        return group
    layers = [group] if isinstance(group, keras.layers.Layer) else list(group)
    for layer in layers:
        if not isinstance(layer, keras.layers.Layer) or not _contains(model, layer):
            raise ValueError(f"Argument `groups` holds {layer!r}, which is not a layer of the model")
    pattern = _layer_patterns(layers)
    if pattern is None:
        raise ValueError(
            f"Argument `groups` holds layers with no variables: {[layer.name for layer in layers]}"
        )
    return pattern


def _contains(model, layer):
    """True when the layer's variables are the model's (a layer of the model, at any depth)."""
    ids = {id(v) for v in model.weights}
    return bool(layer.weights) and all(id(w) in ids for w in layer.weights)


def discriminative_rates(lo: float, hi: float, count: int) -> list[float]:
    """`count` rates log-spaced from `lo` (first group) to `hi` (last), like fastai's `slice(lo, hi)`."""
    lo, hi = checks.positive_float("lo", lo), checks.positive_float("hi", hi)
    if lo > hi:
        raise ValueError(f"Argument `lo` must be <= `hi`. Received: lo={lo}, hi={hi}")
    count = checks.positive_int("count", count)
    return [float(v) for v in np.geomspace(lo, hi, count)] if count > 1 else [hi]


def discriminative_optimizer(
    model: keras.Model,
    groups: Sequence,
    lo: float,
    hi: float,
    optimizer: keras.optimizers.Optimizer | None = None,
) -> keras.optimizers.Optimizer:
    """A `keras.optimizers.MultiOptimizer` with rates log-spaced from `lo` on the first group to `hi` on
    the last (Keras 3.15 or newer: older Keras has no `MultiOptimizer`).

    Args:
        model: the model whose trainable variables the groups must cover, each exactly once.
        groups: from the first layers to the last; each a variable-path pattern (a regular
            expression matched in full, as `OptimizerMap` does), a layer, or a list of layers.
        lo: the rate of the first group.
        hi: the rate of the last group, which is also the default optimizer.
        optimizer: the template each group's optimizer is copied from (its config, with the rate
            replaced); default `onecycle.optimizers.SGD(momentum=0.9)`.
    """
    if not hasattr(keras.optimizers, "MultiOptimizer"):
        raise RuntimeError(
            "Discriminative rates need keras.optimizers.MultiOptimizer, which Keras has from 3.15. "
            f"Installed: Keras {keras.version()}"
        )
    if not isinstance(model, keras.Model):
        raise ValueError(f"Argument `model` must be a keras.Model. Received: model={model!r}")
    if isinstance(groups, (str, keras.layers.Layer)) or len(groups) < 1:
        raise ValueError(f"Argument `groups` must be a non-empty list of groups. Received: groups={groups!r}")
    rates = discriminative_rates(lo, hi, len(groups))
    patterns = [_group_pattern(g, model) for g in groups]
    _check_cover(model, patterns)
    if optimizer is None:
        optimizer = SGD(momentum=0.9)
    subs = [with_rate(optimizer, rate) for rate in rates]
    mapping = keras.optimizers.OptimizerMap(default_optimizer=subs[-1])
    for pattern, sub in zip(patterns[:-1], subs[:-1]):
        mapping[pattern] = sub
    return keras.optimizers.MultiOptimizer(mapping)


def _check_cover(model, patterns):
    """Every pattern claims a trainable variable, and no variable is claimed twice or not at all."""
    variables = model.trainable_variables
    if not variables:
        raise ValueError("Argument `model` has no trainable variables: build it (and unfreeze it) first")
    for pattern in patterns:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise ValueError(f"Argument `groups` holds an invalid pattern {pattern!r}: {error}") from None
        if not any(compiled.fullmatch(v.path) for v in variables):
            raise ValueError(
                f"Argument `groups` holds a pattern that matches no trainable variable. Received: {pattern!r}"
            )
    for v in variables:
        claims = [p for p in patterns if re.fullmatch(p, v.path)]
        if len(claims) > 1:
            raise ValueError(f"Argument `groups` claims variable {v.path!r} twice: {claims}")
        if not claims:
            raise ValueError(f"Argument `groups` leaves variable {v.path!r} in no group")
