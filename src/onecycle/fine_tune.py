"""`fine_tune`: transfer learning in two 1cycle stages, the head on a frozen base, then everything
with discriminative rates (fastai's `fine_tune`, in Keras' transfer-learning vocabulary)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import keras

from onecycle import checks
from onecycle.finder import LRFinderResult
from onecycle.fit import fit_one_cycle
from onecycle.groups import discriminative_optimizer, is_multi_optimizer
from onecycle.optimizers import inner_optimizer, with_rate


@dataclasses.dataclass
class FineTuneResult:
    """What `fine_tune` ran: the `History` and the range test of each stage (frozen, then unfrozen)."""

    histories: list
    lr_finders: list[LRFinderResult | None]


def _base_layers(model, base_model):
    """The layers named by `base_model`: a layer of the model (often a nested `keras.Model`), its
    name, or a list of either."""
    items = base_model if isinstance(base_model, (list, tuple)) else [base_model]
    if not items:
        raise ValueError(
            f"Argument `base_model` must name at least one layer. Received: base_model={base_model!r}"
        )
    ids = {id(v) for v in model.weights}
    layers = []
    for item in items:
        if isinstance(item, str):
            try:
                item = model.get_layer(item)
            except ValueError:
                raise ValueError(
                    f"Argument `base_model` names no layer of the model. Received: {item!r}"
                ) from None
        if not isinstance(item, keras.layers.Layer) or item is model:
            raise ValueError(
                f"Argument `base_model` must be a layer of the model or its name. Received: {item!r}"
            )
        if not item.weights or not all(id(w) in ids for w in item.weights):
            raise ValueError(f"Argument `base_model` is not part of the model. Received: {item.name!r}")
        layers.append(item)
    return layers


def _set_trainable(layers, trainable):
    """Freeze or unfreeze; batch-norm layers stay frozen, so they run in inference mode (Keras'
    transfer-learning guide: unfreezing them would wreck the statistics the base learned)."""
    for layer in layers:
        layer.trainable = trainable
        for sub in _walk(layer):
            if isinstance(sub, keras.layers.BatchNormalization):
                sub.trainable = False


def _walk(layer):
    yield layer
    for sub in getattr(layer, "layers", []):
        yield from _walk(sub)


def _recompile(model, compile_config, optimizer):
    compile_config = {**compile_config, "optimizer": keras.optimizers.serialize(optimizer)}
    model.compile_from_config(compile_config)


def _exact(variables):
    return "|".join(re.escape(v.path) for v in variables)


def fine_tune(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    base_model: keras.layers.Layer | str | Sequence,
    epochs: int,
    freeze_epochs: int = 1,
    batch_size: int = 32,
    lr_mult: float = 100.0,
    find_lr_kwargs: dict | None = None,
    **fit_kwargs: Any,
) -> FineTuneResult:
    """Fine-tune a compiled model whose `base_model` was pretrained.

    1. Freeze `base_model`; range test; 1cycle on the rest (the new head) for `freeze_epochs`.
    2. Unfreeze it, batch-norm layers excepted (they stay in inference mode); range test on
       discriminative rates (the base at `1 / lr_mult` of the head's rate, both swept together);
       1cycle on everything for `epochs`, the head at the suggested peak and the base at
       `peak / lr_mult` (fastai's `slice(lr / lr_mult, lr)`).

    The model is recompiled at each stage with its own loss and metrics and a copy of its optimizer
    (`onecycle.optimizers.SGD`, `Adam` or `AdamW` to cycle momentum too). `fit_kwargs` go to both
    stages' `fit` (`validation_data`, `callbacks`, `verbose`, ...).

    Args:
        model: a compiled model containing `base_model`.
        x: training data, as for `model.fit`.
        y: targets, as for `model.fit`.
        base_model: the pretrained part: a layer of the model (often a nested `keras.Model`), its
            name, or a list of either.
        epochs: epochs of the unfrozen stage.
        freeze_epochs: epochs of the frozen stage (0 to skip it).
        batch_size: batch size of both stages and their range tests.
        lr_mult: ratio of the head's rate to the base's in the unfrozen stage.
        find_lr_kwargs: arguments for both range tests.
        **fit_kwargs: passed to `fit_one_cycle` (and so to `model.fit`) in both stages.

    Returns:
        A `FineTuneResult` with both stages' histories and range tests (the frozen stage's are
        omitted when `freeze_epochs` is 0).
    """
    checks.compiled_model(model)
    epochs = checks.positive_int("epochs", epochs)
    freeze_epochs = checks.non_negative_int("freeze_epochs", freeze_epochs)
    lr_mult = checks.float_in("lr_mult", lr_mult, 1.0, float("inf"), high_open=True)
    template = inner_optimizer(model.optimizer)
    if is_multi_optimizer(template):
        raise ValueError(
            "Argument `model` must be compiled with one optimizer: fine_tune builds its own MultiOptimizer"
        )
    base = _base_layers(model, base_model)
    compile_config = model.get_compile_config()
    rate = float(keras.ops.convert_to_numpy(template.learning_rate))
    histories, finders = [], []
    common = {"batch_size": batch_size, "find_lr_kwargs": find_lr_kwargs, **fit_kwargs}

    if freeze_epochs:
        _set_trainable(base, False)
        if not model.trainable_variables:
            raise ValueError(
                "Argument `base_model` covers every trainable variable: nothing is left to train frozen"
            )
        _recompile(model, compile_config, with_rate(template, rate))
        history = fit_one_cycle(model, x, y, epochs=freeze_epochs, **common)
        histories.append(history)
        finders.append(history.lr_finder)

    _set_trainable(base, True)
    base_ids = {id(v) for layer in base for v in layer.trainable_weights}
    base_variables = [v for v in model.trainable_variables if id(v) in base_ids]
    head_variables = [v for v in model.trainable_variables if id(v) not in base_ids]
    if not base_variables or not head_variables:
        raise ValueError(
            "Argument `base_model` must leave some trainable variables outside it, and hold some itself"
        )
    optimizer = discriminative_optimizer(
        model, [_exact(base_variables), _exact(head_variables)], rate / lr_mult, rate, optimizer=template
    )
    _recompile(model, compile_config, optimizer)
    history = fit_one_cycle(model, x, y, epochs=epochs, **common)
    histories.append(history)
    finders.append(history.lr_finder)
    return FineTuneResult(histories, finders)
