"""One dataclass of documented fields per command; the CLI options are generated from them."""

import dataclasses
import math
import os

from onecycle import DEFAULT_SUGGESTION, SUGGESTION_METHODS
from onecycle.experiments import arms, datasets

AUTO_GRID_EXPONENTS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5)
DEFAULT_OPTIMIZER = {"boston_housing": "adam", "diabetes": "adam", "breast_cancer": "adam"}
DEFAULT_EPOCHS = {
    "digits": 20,
    "fashion_mnist": 12,
    "cifar10": 30,
    "boston_housing": 200,
    "diabetes": 200,
    "breast_cancer": 100,
}


class ConfigError(ValueError):
    """A bad option: the message names the option and the value."""


def _positive_rate(value):
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _field(default, help, **metadata):
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass
class FindLRConfig:
    """`onecycle find-lr`: the learning-rate range test on a dataset's model."""

    dataset: str = _field("digits", "dataset: " + ", ".join(datasets.REGISTRY), positional=True)
    batch_size: int = _field(32, "batch size of the range test (use the one you will train with)")
    optimizer: str | None = _field(
        None,
        "optimizer: "
        + ", ".join(arms.OPTIMIZERS)
        + "; default per dataset, chosen on validation data (docs/RESULTS.md): "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_OPTIMIZER.items())
        + ", else sgd",
    )
    num_steps: int = _field(200, "steps of the range test")
    method: str = _field(DEFAULT_SUGGESTION, "suggestion method: " + ", ".join(SUGGESTION_METHODS))
    subset: int | None = _field(None, "use only this many training samples (and at most as many val/test)")
    data_dir: str | None = _field(
        None, f"folder with local copies of the datasets (or ${datasets.DATA_DIR_ENV})"
    )
    out: str | None = _field(None, "run folder; default runs/<name from the config>")
    overwrite: bool = _field(False, "write into an existing non-empty run folder")
    seed: int = _field(0, "random seed of the model and the data order")

    command = "find-lr"

    def __post_init__(self):
        if self.optimizer is None:
            self.optimizer = DEFAULT_OPTIMIZER.get(self.dataset, "sgd")

    def validate(self):
        checks_for = [
            ("dataset", self.dataset, tuple(datasets.REGISTRY)),
            ("optimizer", self.optimizer, arms.OPTIMIZERS),
            ("method", self.method, tuple(SUGGESTION_METHODS)),
        ]
        for name, value, choices in checks_for:
            if value not in choices:
                raise ConfigError(
                    f"--{name.replace('_', '-')}: invalid choice {value!r} (choose from {', '.join(choices)})"
                )
        for name in ("batch_size", "num_steps", "subset", "epochs", "seeds"):
            value = getattr(self, name, None)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(f"--{name.replace('_', '-')}: must be a positive integer, got {value!r}")
        if self.num_steps < 2:
            raise ConfigError(f"--num-steps: must be at least 2, got {self.num_steps!r}")
        if not isinstance(self.seed, int) or self.seed < 0 or self.seed >= 2**32:
            raise ConfigError(f"--seed: must be an integer in [0, 2**32), got {self.seed!r}")
        if self.data_dir is not None and not os.path.isdir(self.data_dir):
            raise ConfigError(f"--data-dir: {self.data_dir!r} is not a folder")
        if getattr(self, "verbose", None) not in (None, 0, 1, 2):
            raise ConfigError(f"--verbose: must be 0, 1 or 2, got {self.verbose!r}")
        if getattr(self, "max_lr", None) is not None and not _positive_rate(self.max_lr):
            raise ConfigError(f"--max-lr: must be a finite number > 0, got {self.max_lr!r}")
        return self

    def run_name(self):
        parts = [self.command, self.dataset, self.optimizer, f"bs{self.batch_size}"]
        if getattr(self, "epochs", None):
            parts.append(f"e{self.epochs}")
        if getattr(self, "seeds", None):
            parts.append(f"s{self.seeds}")
        if self.subset:
            parts.append(f"n{self.subset}")
        return "-".join(parts)

    def out_dir(self):
        return self.out or os.path.join("runs", self.run_name())


@dataclasses.dataclass
class CompareConfig(FindLRConfig):
    """`onecycle compare`: range test, then every arm trained over several seeds, then the report."""

    epochs: int | None = _field(
        None,
        "epochs per arm; default per dataset: " + ", ".join(f"{k} {v}" for k, v in DEFAULT_EPOCHS.items()),
    )
    seeds: int = _field(3, "number of seeds per arm")
    arms: str = _field(",".join(arms.DEFAULT_ARMS), "comma-separated arms: " + ", ".join(arms.NAMES))
    max_lr: float | None = _field(
        None,
        "peak rate of the onecycle arms (and rate of the others without --lrs); default: the range test's suggestion",
    )
    lrs: str = _field(
        "auto",
        "grid of rates for the baseline arms that take one (constant, cosine): comma-separated rates, 'auto' "
        "(the suggestion times 10^-2, 10^-1.5, ..., 10^0.5) or 'none' (the suggestion only); the best of each "
        "family is chosen on validation data. onecycle arms keep the suggestion",
    )
    baselines: str | None = _field(
        None,
        "comma-separated run folders whose runs join the comparison (same dataset and seeds), "
        "so the best baseline is chosen over them too",
    )
    verbose: int | None = _field(
        None, "Keras verbosity: 0 silent, 1 progress bar, 2 a line per epoch; default 1 on a terminal, else 2"
    )

    command = "compare"

    def __post_init__(self):
        super().__post_init__()
        if self.epochs is None and self.dataset in DEFAULT_EPOCHS:
            self.epochs = DEFAULT_EPOCHS[self.dataset]

    def arm_list(self):
        return [arms.ALIASES.get(a.strip(), a.strip()) for a in self.arms.split(",")]

    def rate_grid(self, suggestion=None):
        """The rates of `--lrs`, sorted (the 'auto' grid needs the suggestion), or None."""
        if not self.lrs or self.lrs == "none":
            return None
        if self.lrs == "auto":
            return None if suggestion is None else [float(suggestion * 10**e) for e in AUTO_GRID_EXPONENTS]
        return sorted(float(v) for v in str(self.lrs).split(","))

    def baseline_list(self):
        """The `--baselines` folders, relative to the run folder (as results.json stores them)."""
        if not self.baselines:
            return []
        return [
            os.path.relpath(os.path.abspath(b.strip()), os.path.abspath(self.out_dir()))
            for b in self.baselines.split(",")
        ]

    def validate(self):
        super().validate()
        names = self.arm_list()
        unknown = [repr(a) for a in names if a not in arms.NAMES]
        if unknown:
            raise ConfigError(
                f"--arms: unknown arm {', '.join(unknown)} in {self.arms!r} (choose from {', '.join(arms.NAMES)})"
            )
        if len(set(names)) != len(names):
            raise ConfigError(f"--arms: an arm is named twice in {self.arms!r}")
        if self.lrs not in (None, "auto", "none"):
            try:
                grid = [float(v) for v in str(self.lrs).split(",")]
            except ValueError:
                grid = None
            if not grid or not all(_positive_rate(v) for v in grid) or len(set(grid)) != len(grid):
                raise ConfigError(
                    f"--lrs: must be 'auto', 'none' or distinct finite rates > 0 separated by commas, got {self.lrs!r}"
                )
        for folder in self.baselines.split(",") if self.baselines else []:
            if not os.path.isfile(os.path.join(folder.strip(), "results.json")):
                raise ConfigError(f"--baselines: {folder.strip()!r} holds no results.json")
        return self


@dataclasses.dataclass
class TrainConfig(CompareConfig):
    """`onecycle train`: one arm (schedule), one or more seeds."""

    schedule: str = _field("onecycle", "the schedule to train with: " + ", ".join(arms.NAMES))
    seeds: int = _field(1, "number of seeds")
    lrs: str = _field("none", "comma-separated rates to train the schedule at (a grid), or 'none'")
    arms: str = ""

    command = "train"

    def __post_init__(self):
        super().__post_init__()
        self.schedule = arms.ALIASES.get(self.schedule, self.schedule)
        self.arms = self.schedule

    def validate(self):
        if self.schedule not in arms.NAMES:
            raise ConfigError(
                f"--schedule: invalid choice {self.schedule!r} (choose from {', '.join(arms.NAMES)})"
            )
        return super().validate()

    def run_name(self):
        return f"{super().run_name()}-{self.schedule}"


COMMANDS = {"find-lr": FindLRConfig, "train": TrainConfig, "compare": CompareConfig}


def from_dict(record):
    """The config saved in a run folder's config.json."""
    cls = COMMANDS[record["command"]]
    record = {"lrs": "none", **record}  # run folders written before grids ran the suggestion only
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in record.items() if k in names})


def to_dict(config):
    return {"command": config.command, **dataclasses.asdict(config)}
