"""The arms of a comparison: each turns (optimizer, peak rate, run length) into an optimizer and a budget.

Every SGD arm uses momentum 0.9 unless it cycles momentum; every Adam arm `beta_1=0.9` likewise.
"""

import dataclasses

import keras

import onecycle
from onecycle.optimizers import Adam, SGD

OPTIMIZERS = ("sgd", "adam")
KERAS_DEFAULT_LR = {"sgd": 0.01, "adam": 0.001}
MOMENTUM = 0.9
CYCLE = (0.95, 0.85)

ARMS = ("constant-default", "constant-best", "onecycle", "onecycle-nomom", "onecycle-short", "cosine")
DEFAULT_ARMS = ("constant-default", "constant-best", "onecycle", "onecycle-nomom", "onecycle-short", "cosine")
DESCRIPTIONS = {
    "constant-default": "constant rate, the Keras default of the optimizer",
    "constant-best": "constant rate, the range test's suggestion",
    "onecycle": "1cycle to the suggested peak, cyclical momentum 0.95-0.85",
    "onecycle-nomom": "1cycle to the suggested peak, constant momentum 0.9",
    "onecycle-short": "1cycle with cyclical momentum over a third of the epochs",
    "cosine": "Keras CosineDecay, linear warm-up over 10% of steps from peak/10 to the peak",
}


@dataclasses.dataclass
class ArmPlan:
    optimizer: keras.optimizers.Optimizer
    epochs: int
    learning_rate: object  # float or schedule, for the schedule plot
    momentum: object


def make_optimizer(name, learning_rate, momentum=MOMENTUM):
    """`onecycle.optimizers.SGD` ("sgd") or `Adam` ("adam") with a rate and a momentum / beta_1."""
    if name == "sgd":
        return SGD(learning_rate=learning_rate, momentum=momentum)
    return Adam(learning_rate=learning_rate, beta_1=momentum)


def plan(arm, *, optimizer, max_lr, epochs, steps_per_epoch):
    """The optimizer and epoch budget of `arm`."""
    if arm == "onecycle-short":
        epochs = max(1, epochs // 3)
    total = epochs * steps_per_epoch
    momentum = MOMENTUM
    if arm == "constant-default":
        lr = KERAS_DEFAULT_LR[optimizer]
    elif arm == "constant-best":
        lr = max_lr
    elif arm.startswith("onecycle"):
        lr = onecycle.OneCycle(max_lr, total)
        if arm != "onecycle-nomom":
            momentum = lr.momentum(*CYCLE)
    elif arm == "cosine":
        warmup = max(1, round(0.1 * total))
        lr = keras.optimizers.schedules.CosineDecay(
            max_lr / 10, decay_steps=max(1, total - warmup), warmup_target=max_lr, warmup_steps=warmup
        )
    else:
        raise ValueError(f"Argument `arm` must be one of {', '.join(ARMS)}. Received: arm={arm!r}")
    return ArmPlan(make_optimizer(optimizer, lr, momentum), epochs, lr, momentum)
