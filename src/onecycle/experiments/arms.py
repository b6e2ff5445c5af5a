"""The arms of a comparison, one registry: each arm turns (optimizer, rate, run length) into what
trains (an optimizer, or a call of `onecycle.fit_one_cycle`) and an epoch budget.

The product arms (family `onecycle`) call `onecycle.fit_one_cycle` itself, so the comparison
measures the product, not a copy of it: its range test, its suggestion, its schedule and its
cyclical momentum (the library's default pair). Every other SGD arm uses momentum 0.9, every other
Adam arm `beta_1=0.9`. The baselines with a warm-up (`cosine`, `wsd`, `linear`) share one: linear
from a tenth of the peak over the first `WARMUP_FRACTION` of the steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import onecycle  # its names import on first use: planning arms loads no Keras backend

if TYPE_CHECKING:
    import keras

OPTIMIZERS = ("sgd", "adam")
KERAS_DEFAULT_LR = {"sgd": 0.01, "adam": 0.001}
MOMENTUM = 0.9
WARMUP_FRACTION = 0.1
COOLDOWN_FRACTION = 0.2  # warmup-stable-decay: the cooldown's share of the steps (Hägele et al., 2024)
SCHEDULE_FREE_DEFAULT_LR = 0.0025  # keras.optimizers.ScheduleFreeAdamW's default
FAMILIES = ("constant", "cosine", "wsd", "linear", "schedule-free", "onecycle")


@dataclasses.dataclass(frozen=True)
class OneCycleCall:
    """How a product arm calls `onecycle.fit_one_cycle`: at `max_lr`, or (None) at the suggestion of
    its own range test; with the library's cyclical momentum, or (`cycle_momentum=False`) the
    optimizer's own momentum held constant."""

    max_lr: float | None = None
    cycle_momentum: bool = True

    def kwargs(self, suggestion: str, num_steps: int) -> dict:
        """The keyword arguments of `fit_one_cycle` for this call, its range test (when it runs one)
        taking `num_steps` steps and the `suggestion` rule."""
        out = {} if self.cycle_momentum else {"cycle_momentum": None}
        if self.max_lr is not None:
            return {**out, "max_lr": self.max_lr}
        return {**out, "suggestion": suggestion, "find_lr_kwargs": {"num_steps": num_steps, "verbose": 0}}


@dataclasses.dataclass
class ArmPlan:
    """What one training of an arm runs. `fit_one_cycle`: how the arm calls `onecycle.fit_one_cycle`
    when it trains through it, else None and `model.fit` runs. `schedule_free`: evaluate at the
    averaged weights (see `schedule_free.py`)."""

    optimizer: keras.optimizers.Optimizer
    epochs: int
    learning_rate: object  # float or schedule, for the schedule plot (fit_one_cycle arms: filled after)
    momentum: object
    fit_one_cycle: OneCycleCall | None = None
    schedule_free: bool = False


@dataclasses.dataclass(frozen=True)
class Arm:
    """One way of setting the learning rate.

    `rate`: "given" (trains at the rate it is given: a grid rate, `--max-lr` or the range test's
    suggestion), "default" (its optimizer's Keras default) or "own" (`fit_one_cycle`'s range test
    picks it, unless `--max-lr`). `baseline`: an arm the product is compared against; its grid,
    when `--lrs` is given, is centred on the suggestion, or on `grid_center` for an arm whose
    optimizer is not the comparison's (ScheduleFreeAdamW). `epochs_divisor`: its budget is
    `--epochs` divided by it.
    """

    name: str
    family: str
    description: str
    rate: str
    baseline: bool
    build: Callable  # (optimizer name, rate, total steps) -> ArmPlan fields
    epochs_divisor: int = 1
    grid_center: float | None = None

    @property
    def needs_rate(self) -> bool:
        return self.rate == "given"


def make_optimizer(
    name: str, learning_rate: float | object, momentum: float | object = MOMENTUM
) -> keras.optimizers.Optimizer:
    """`onecycle.optimizers.SGD` ("sgd") or `Adam` ("adam") with a rate and a momentum / beta_1."""
    if name == "sgd":
        return onecycle.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    return onecycle.optimizers.Adam(learning_rate=learning_rate, beta_1=momentum)


def _plain(learning_rate, optimizer):
    return {"optimizer": make_optimizer(optimizer, learning_rate), "learning_rate": learning_rate}


def _constant(optimizer, rate, total):
    return _plain(rate, optimizer)


def _warmup(rate, total):
    """(warm-up steps, its start value): the warm-up the scheduled baselines share."""
    return max(1.0, WARMUP_FRACTION * total), rate / 10


def _cosine(optimizer, rate, total):
    import keras

    warmup, start = _warmup(rate, total)
    schedule = keras.optimizers.schedules.CosineDecay(
        start, decay_steps=max(1, total - round(warmup)), warmup_target=rate, warmup_steps=round(warmup)
    )
    return _plain(schedule, optimizer)


def _wsd(optimizer, rate, total):
    warmup, start = _warmup(rate, total)
    stable_end = max(warmup, (1 - COOLDOWN_FRACTION) * total)
    schedule = onecycle.Piecewise(
        [warmup, stable_end, total], [start, rate, rate, 0.0], ["linear", "linear", "sqrt"], name="WSD"
    )
    return _plain(schedule, optimizer)


def _linear(optimizer, rate, total):
    warmup, start = _warmup(rate, total)
    schedule = onecycle.Piecewise(
        [warmup, total], [start, rate, 0.0], ["linear", "linear"], name="LinearDecay"
    )
    return _plain(schedule, optimizer)


def _schedule_free(optimizer, rate, total):
    from onecycle.experiments import schedule_free

    warmup, _ = _warmup(rate, total)
    return {
        "optimizer": schedule_free.ScheduleFreeAdamW(learning_rate=rate, warmup_steps=round(warmup)),
        "learning_rate": rate,
        "schedule_free": True,
    }


def _schedule_free_default(optimizer, rate, total):
    from onecycle.experiments import schedule_free

    return {
        "optimizer": schedule_free.ScheduleFreeAdamW(),
        "learning_rate": SCHEDULE_FREE_DEFAULT_LR,
        "schedule_free": True,
    }


def _one_cycle(cycle_momentum=True):
    def build(optimizer, rate, total):
        # compiled with a schedule already (fit_one_cycle replaces it): the optimizer then holds the
        # variables of the trained one, so that a backup of an interrupted run loads into it
        placeholder = onecycle.OneCycle(KERAS_DEFAULT_LR[optimizer], total)
        return {
            "optimizer": make_optimizer(optimizer, placeholder),
            "learning_rate": None,
            "fit_one_cycle": OneCycleCall(max_lr=rate, cycle_momentum=cycle_momentum),
        }

    return build


REGISTRY = {
    arm.name: arm
    for arm in (
        Arm(
            "constant-default",
            "constant",
            "constant rate, the Keras default of the optimizer (SGD 0.01, Adam 0.001)",
            rate="default",
            baseline=True,
            build=_constant,
        ),
        Arm(
            "constant",
            "constant",
            "constant rate, the rate given (each rate of the grid, or the range test's suggestion)",
            rate="given",
            baseline=True,
            build=_constant,
        ),
        Arm(
            "onecycle",
            "onecycle",
            "onecycle.fit_one_cycle with its defaults: its own range test, 1cycle to the suggestion, "
            "cyclical momentum",
            rate="own",
            baseline=False,
            build=_one_cycle(),
        ),
        Arm(
            "onecycle-nomom",
            "onecycle",
            "onecycle.fit_one_cycle with constant momentum 0.9 (cycle_momentum=None)",
            rate="own",
            baseline=False,
            build=_one_cycle(cycle_momentum=False),
        ),
        Arm(
            "onecycle-short",
            "onecycle",
            "onecycle.fit_one_cycle over a third of the epochs",
            rate="own",
            baseline=False,
            build=_one_cycle(),
            epochs_divisor=3,
        ),
        Arm(
            "cosine",
            "cosine",
            "Keras CosineDecay to 0 after a linear warm-up over 10% of the steps from peak/10",
            rate="given",
            baseline=True,
            build=_cosine,
        ),
        Arm(
            "wsd",
            "wsd",
            "warmup-stable-decay: the same warm-up, the peak held, then a 1-sqrt cooldown to 0 over the "
            "last 20% of the steps",
            rate="given",
            baseline=True,
            build=_wsd,
        ),
        Arm(
            "linear",
            "linear",
            "the same warm-up, then linear decay to 0",
            rate="given",
            baseline=True,
            build=_linear,
        ),
        Arm(
            "schedule-free",
            "schedule-free",
            "keras.optimizers.ScheduleFreeAdamW (its step reading z before updating it, see "
            "schedule_free.py) at the rate given (grid centred on its default 0.0025), warm-up over 10% "
            "of the steps, evaluated at its averaged weights",
            rate="given",
            baseline=True,
            build=_schedule_free,
            grid_center=SCHEDULE_FREE_DEFAULT_LR,
        ),
        Arm(
            "schedule-free-default",
            "schedule-free",
            "keras.optimizers.ScheduleFreeAdamW (its step reading z before updating it, see "
            "schedule_free.py) at its defaults (rate 0.0025, no warm-up), evaluated at its averaged "
            "weights",
            rate="default",
            baseline=True,
            build=_schedule_free_default,
        ),
    )
}
ALIASES = {
    "constant-best": "constant"
}  # the name of the constant arm in run folders written before the registry
NAMES = tuple(REGISTRY)
DEFAULT_ARMS = (
    "constant-default",
    "constant",
    "cosine",
    "wsd",
    "linear",
    "schedule-free-default",
    "schedule-free",
    "onecycle",
)


def canonical(name: str) -> str:
    """The registry's name for `name` (an old name mapped to its new one, any other unchanged)."""
    return ALIASES.get(name, name)


def get(name: str) -> Arm:
    """The `Arm` called `name` (old names accepted)."""
    name = canonical(name)
    if name not in REGISTRY:
        raise ValueError(f"Argument `arm` must be one of {', '.join(NAMES)}. Received: arm={name!r}")
    return REGISTRY[name]


def default_rate(arm: str, optimizer: str) -> float:
    """The rate an arm with `rate="default"` trains at."""
    return SCHEDULE_FREE_DEFAULT_LR if get(arm).family == "schedule-free" else KERAS_DEFAULT_LR[optimizer]


def rate_of(arm: str, optimizer: str, given: float | None) -> float | None:
    """The rate `arm` is recorded at: `given`, or its default for arms that pick their own."""
    return default_rate(arm, optimizer) if get(arm).rate == "default" else given


def plan(arm: str, *, optimizer: str, rate: float | None, epochs: int, steps_per_epoch: int) -> ArmPlan:
    """What `arm` trains with at `rate`: a grid or given rate; ignored by arms at their default; for
    the arms that pick their own peak (`fit_one_cycle`), the peak they are given, or None for their
    own range test."""
    spec = get(arm)
    epochs = max(1, epochs // spec.epochs_divisor)
    fields = spec.build(optimizer, rate_of(arm, optimizer, rate), epochs * steps_per_epoch)
    momentum = MOMENTUM if fields.get("fit_one_cycle") is None else None
    if fields.get("schedule_free"):
        momentum = fields["optimizer"].beta_1
    return ArmPlan(epochs=epochs, momentum=momentum, **fields)
