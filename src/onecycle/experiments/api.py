"""`compare`: the harness's comparison on your own model and arrays, from Python."""

import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence

from onecycle.experiments import arms as arms_registry
from onecycle.experiments import config as config_module
from onecycle.experiments import own_data, runner


@dataclasses.dataclass
class ComparisonResult:
    """What `compare` returns. `summary`: one row per arm, rate and budget (the rows of
    results.json); `selection`: the baselines chosen on validation data and the paired comparisons;
    `results`: the whole results.json record; `report`: the path of report.md, or None when no
    `out` folder was given."""

    summary: list
    selection: dict
    results: dict
    report: str | None


def _as_parameters(message):
    """A command-line message with its options (`--grid-seeds`) named as `compare`'s parameters."""
    return re.sub(r"--([a-z][a-z-]*)", lambda m: f"`{m.group(1).replace('-', '_')}`", message)


def compare(
    build_model: Callable,
    x,
    y,
    *,
    validation_data=None,
    test_data=None,
    epochs: int,
    batch_size: int = 32,
    seeds: int = 3,
    arms: Sequence[str] | None = None,
    lrs: str | Sequence[float] = "auto",
    grid_seeds: int | None = 1,
    optimizer: str | None = None,
    task: str | None = None,
    out: str | None = None,
    overwrite: bool = False,
    verbose: int = 0,
) -> ComparisonResult:
    """Train `build_model(input_shape, num_outputs)` (an uncompiled Keras model: a softmax over
    `num_outputs` classes, or one linear output for a regression) with every arm over `seeds`
    paired seeds, and return the comparison; the report (report.md, plots) is written to `out`.

    Validation data is carved from `x, y` (20%, fixed seed) when not given; `test_data` is optional.
    Inputs are standardized with training statistics. `arms`: names of
    `onecycle.experiments.arms.REGISTRY`, a list or one comma-separated string (default: every arm
    of the CLI's default list); `lrs`:
    "auto", "none" or a list of rates for the grids; `optimizer`: "sgd" or "adam" (default: adam
    for tables, sgd otherwise); `task`: "classification" or "regression" (default: inferred from
    `y`). Bad arguments raise `ValueError` naming the parameter; a model that does not fit the
    data raises before anything is written.
    """
    for name, pair in (("validation_data", validation_data), ("test_data", test_data)):
        if pair is not None and (not isinstance(pair, (tuple, list)) or len(pair) != 2):
            shown = (
                f"a {type(pair).__name__} of {len(pair)}" if isinstance(pair, (tuple, list)) else repr(pair)
            )
            raise ValueError(f"Argument `{name}` must be a pair (x, y). Received: {shown}")
    dataset = own_data.from_arrays(
        getattr(build_model, "__name__", "model"), x, y, validation_data, test_data, task
    )
    if isinstance(arms, str):
        names = [a.strip() for a in arms.split(",") if a.strip()]
    else:
        names = list(arms) if arms is not None else list(arms_registry.DEFAULT_ARMS)
    if not isinstance(lrs, str):
        lrs = ",".join(str(float(r)) for r in lrs)
    work = None if out else tempfile.mkdtemp(prefix="onecycle-compare-")
    config = config_module.CompareConfig.from_options(
        dataset=dataset.name,
        in_memory=True,
        optimizer=optimizer or ("adam" if dataset.x_train.ndim == 2 else "sgd"),
        batch_size=batch_size,
        epochs=epochs,
        seeds=seeds,
        arms=",".join(names),
        lrs=lrs,
        grid_seeds=grid_seeds,
        out=out or work,
        overwrite=overwrite or work is not None,
        verbose=verbose,
    )
    try:
        config.validate()
    except config_module.ConfigError as error:  # worded for the command line: name the parameter instead
        raise ValueError(_as_parameters(str(error))) from None
    config.model.spec = build_model
    try:
        results, path = runner.compare(config, dataset=dataset)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return ComparisonResult(
        summary=results.get("summary", []),
        selection=results.get("selection", {}),
        results=results,
        report=os.path.join(path, "report.md") if out else None,
    )
