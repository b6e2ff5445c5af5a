"""The plan of a comparison, pure code (no Keras): which trainings run, at which rates and seeds,
how a grid is extended past an edge and which of its rates is chosen on validation."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from onecycle.experiments import arms, summary

if TYPE_CHECKING:
    from onecycle.experiments.config import ArmOptions

OWN_RATE = 0.0  # the rate results.json records for a training whose own range test picks its peak


@dataclasses.dataclass(frozen=True)
class Training:
    """One planned training: `arm` at `rate` on `seed`. `rate` is a grid or given rate, the default
    of an arm that trains at its optimizer's default, or, for the arms that call `fit_one_cycle`,
    the peak it is given (`--max-lr`), None where its own range test settles it."""

    arm: str
    rate: float | None
    seed: int

    def recorded_rate(self, optimizer: str) -> float:
        """The rate results.json records for it (runs are matched on it)."""
        return OWN_RATE if self.rate is None else arms.rate_of(self.arm, optimizer, self.rate)

    def key(self, optimizer: str) -> tuple[str, str, int]:
        return self.arm, f"{self.recorded_rate(optimizer):.12g}", self.seed


GRID_STEP = 10**0.5  # an extension of a grid adds one rate half a decade beyond its edge
MAX_EXTENSIONS = 2  # per side


def _grid_choice(runs, arm, grid, seeds, higher):
    """The grid of `arm`, extended past an edge where the best rate (mean best validation value over
    `seeds`) sits there, and the chosen rate once every rate of it ran on `seeds`; the chosen rate
    is None while the grid is unfinished."""
    grid, low, high = sorted(grid), 0, 0
    while True:
        scores = {}
        for rate in grid:
            values = [
                summary.best_val(r, higher)
                for r in runs
                if r["arm"] == arm and f"{r['lr']:.12g}" == f"{rate:.12g}" and r["seed"] in seeds
            ]
            if len(values) < len(seeds):
                return grid, None
            scores[rate] = None if None in values else sum(values) / len(values)
        best = summary.best_of(grid, scores.get, higher)
        if best is None:
            return grid, None
        if best == grid[0] and low < MAX_EXTENSIONS:
            grid, low = [grid[0] / GRID_STEP, *grid], low + 1
        elif best == grid[-1] and high < MAX_EXTENSIONS:
            grid, high = [*grid, grid[-1] * GRID_STEP], high + 1
        else:
            return grid, best


def planned_runs(
    options: ArmOptions, optimizer: str, max_lr: float, runs: list[dict] | None = None, higher: bool = True
) -> list[Training]:
    """Every `Training` known so far for the arms of `options` (a `config.ArmOptions`) with the
    baselines compiled with `optimizer` ("sgd" or "adam"): the baseline arms that take a rate run at each rate of `--lrs`
    when it is given (a grid centred on `max_lr`, the range test's suggestion, for 'auto'), the
    arms that call `fit_one_cycle` at `--max-lr` or their own range test's peak.

    With `--grid-seeds N`, a grid runs on the first N seeds only; a best rate at its edge extends it
    by half a decade (at most `MAX_EXTENSIONS` times a side); then the chosen rate runs on every
    seed. Runs are ordered by seed, so that the first seed of every arm comes first, and within a
    seed the product's arms come first."""
    grid_seeds, seeds = options.grid_seeds, options.seeds
    todo = []
    for name in options.arm_list():
        arm = arms.get(name)
        grid = (
            options.rate_grid(max_lr) if arm.grid_center is None else options.centered_grid(arm.grid_center)
        )
        if arm.rate == "default":
            rate = arms.default_rate(arm.name, optimizer)
            todo += [Training(arm.name, rate, s) for s in range(seeds)]
        elif arm.rate == "own":
            todo += [Training(arm.name, options.max_lr, s) for s in range(seeds)]
        elif grid and arm.baseline and grid_seeds and grid_seeds < seeds:
            first = range(grid_seeds)
            extended, chosen = _grid_choice(runs or [], arm.name, grid, set(first), higher)
            todo += [Training(arm.name, rate, s) for rate in extended for s in first]
            if chosen is not None:
                todo += [Training(arm.name, chosen, s) for s in range(grid_seeds, seeds)]
        elif grid and arm.baseline:
            todo += [Training(arm.name, rate, s) for rate in grid for s in range(seeds)]
        else:
            todo += [Training(arm.name, arm.grid_center or max_lr, s) for s in range(seeds)]
    return sorted(todo, key=lambda t: (t.seed, arms.get(t.arm).family != "onecycle"))


def needs_range_test(options: ArmOptions) -> bool:
    """True when some arm trains at the suggestion or around it ('auto' grid)."""
    centred = [a for a in map(arms.get, options.arm_list()) if a.needs_rate and a.grid_center is None]
    if options.lrs == "auto":
        return bool(centred)
    grid = options.rate_grid()
    return any(not (grid and a.baseline) for a in centred)
