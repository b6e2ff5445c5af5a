"""The arms of a comparison, one registry: each arm turns (optimizer, rate, run length) into an
optimizer and an epoch budget.

Every SGD arm uses momentum 0.9 unless it cycles momentum; every Adam arm `beta_1=0.9` likewise.
The `rate` an arm is given is its constant rate (constant family) or its peak (the others).
"""

import dataclasses
from collections.abc import Callable

import keras

import onecycle
from onecycle.optimizers import SGD, Adam

OPTIMIZERS = ("sgd", "adam")
KERAS_DEFAULT_LR = {"sgd": 0.01, "adam": 0.001}
MOMENTUM = 0.9
CYCLE = (0.95, 0.85)
FAMILIES = ("constant", "cosine", "onecycle")


@dataclasses.dataclass
class ArmPlan:
    optimizer: keras.optimizers.Optimizer
    epochs: int
    learning_rate: object  # float or schedule, for the schedule plot
    momentum: object


@dataclasses.dataclass(frozen=True)
class Arm:
    """One way of setting the learning rate.

    `needs_rate`: the arm trains at the rate it is given (the range test's suggestion, `--max-lr`
    or each rate of `--lrs`); otherwise it picks its own (Keras' default). `baseline`: an arm the
    product (`onecycle`) is compared against. `epochs_divisor`: its budget is `--epochs` divided by it.
    """

    name: str
    family: str
    description: str
    needs_rate: bool
    baseline: bool
    schedule: Callable  # (rate, total_steps) -> (learning rate, momentum or None for constant 0.9)
    epochs_divisor: int = 1


def _constant(rate, total):
    return rate, None


def _onecycle(rate, total):
    schedule = onecycle.OneCycle(rate, total)
    return schedule, schedule.momentum(*CYCLE)


def _onecycle_nomom(rate, total):
    return onecycle.OneCycle(rate, total), None


def _cosine(rate, total):
    warmup = max(1, round(0.1 * total))
    schedule = keras.optimizers.schedules.CosineDecay(
        rate / 10, decay_steps=max(1, total - warmup), warmup_target=rate, warmup_steps=warmup
    )
    return schedule, None


REGISTRY = {
    arm.name: arm
    for arm in (
        Arm(
            "constant-default",
            "constant",
            "constant rate, the Keras default of the optimizer (SGD 0.01, Adam 0.001)",
            needs_rate=False,
            baseline=True,
            schedule=_constant,
        ),
        Arm(
            "constant",
            "constant",
            "constant rate, the rate given (the range test's suggestion unless --max-lr or --lrs)",
            needs_rate=True,
            baseline=True,
            schedule=_constant,
        ),
        Arm(
            "onecycle",
            "onecycle",
            "1cycle to the given peak (by default the range test's suggestion), cyclical momentum 0.95-0.85",
            needs_rate=True,
            baseline=False,
            schedule=_onecycle,
        ),
        Arm(
            "onecycle-nomom",
            "onecycle",
            "1cycle to the given peak, constant momentum 0.9",
            needs_rate=True,
            baseline=False,
            schedule=_onecycle_nomom,
        ),
        Arm(
            "onecycle-short",
            "onecycle",
            "1cycle with cyclical momentum over a third of the epochs",
            needs_rate=True,
            baseline=False,
            schedule=_onecycle,
            epochs_divisor=3,
        ),
        Arm(
            "cosine",
            "cosine",
            "Keras CosineDecay, linear warm-up over 10% of steps from peak/10 to the peak, then to 0",
            needs_rate=True,
            baseline=True,
            schedule=_cosine,
        ),
    )
}
ALIASES = {
    "constant-best": "constant"
}  # the name of the constant arm in run folders written before the registry
NAMES = tuple(REGISTRY)
DEFAULT_ARMS = ("constant-default", "constant", "onecycle", "onecycle-nomom", "onecycle-short", "cosine")


def get(name):
    """The `Arm` called `name` (old names accepted)."""
    name = ALIASES.get(name, name)
    if name not in REGISTRY:
        raise ValueError(f"Argument `arm` must be one of {', '.join(NAMES)}. Received: arm={name!r}")
    return REGISTRY[name]


def make_optimizer(name, learning_rate, momentum=MOMENTUM):
    """`onecycle.optimizers.SGD` ("sgd") or `Adam` ("adam") with a rate and a momentum / beta_1."""
    if name == "sgd":
        return SGD(learning_rate=learning_rate, momentum=momentum)
    return Adam(learning_rate=learning_rate, beta_1=momentum)


def rate_of(arm, optimizer, given):
    """The rate `arm` trains at: `given`, or Keras' default for arms that pick their own."""
    return given if get(arm).needs_rate else KERAS_DEFAULT_LR[optimizer]


def plan(arm, *, optimizer, rate, epochs, steps_per_epoch):
    """The optimizer and epoch budget of `arm` at `rate`."""
    spec = get(arm)
    epochs = max(1, epochs // spec.epochs_divisor)
    learning_rate, momentum = spec.schedule(rate_of(arm, optimizer, rate), epochs * steps_per_epoch)
    momentum = MOMENTUM if momentum is None else momentum
    return ArmPlan(make_optimizer(optimizer, learning_rate, momentum), epochs, learning_rate, momentum)
