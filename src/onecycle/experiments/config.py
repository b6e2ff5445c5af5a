"""One dataclass of documented fields per command; the CLI options are generated from them."""

import dataclasses
import math
import os

from onecycle import DEFAULT_SUGGESTION, SUGGESTION_METHODS
from onecycle.experiments import arms, datasets, own_data
from onecycle.experiments.errors import ConfigError

AUTO_GRID_EXPONENTS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5)
CENTERED_GRID_EXPONENTS = (-1.0, -0.5, 0.0, 0.5, 1.0)
DEFAULT_USER_EPOCHS = 20


def _positive_rate(value):
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _field(default, help, **metadata):
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass
class FindLRConfig:
    """`onecycle find-lr`: the learning-rate range test on a dataset's model."""

    dataset: str = _field(
        "digits", "dataset: " + ", ".join(datasets.REGISTRY) + " (ignored with --data)", positional=True
    )
    data: str | None = _field(
        None,
        "your own data instead of a bundled dataset: an .npz with x_train, y_train (optionally x_val, y_val, "
        "x_test, y_test) or a .csv with a header row and --target",
    )
    target: str | None = _field(None, "the target column of a --data .csv")
    task: str | None = _field(
        None,
        "classification or regression; default for --data: classification when the target is text or integers "
        f"with at most {own_data.MAX_CLASSES} values, else regression",
    )
    batch_size: int = _field(32, "batch size of the range test (use the one you will train with)")
    optimizer: str | None = _field(
        None,
        "optimizer: "
        + ", ".join(arms.OPTIMIZERS)
        + "; default per dataset: "
        + ", ".join(f"{k} {v.optimizer}" for k, v in datasets.REGISTRY.items())
        + "; for --data: adam for tables, sgd for images",
    )
    model: str | None = _field(
        None,
        "the model: a name (mlp, cnn, resnet9), PATH.py:FUNCTION or module:function, the function taking "
        "(input_shape, num_outputs) and returning an uncompiled Keras model; default: the MLP for tables, "
        "the CNN for images",
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
    in_memory: bool = False  # the Python API's arrays: no bundled dataset to check `dataset` against

    command = "find-lr"

    def __post_init__(self):
        if self.optimizer is None:
            if self.data:
                self.optimizer = "adam" if own_data.is_table_file(self.data) else "sgd"
            else:
                spec = datasets.REGISTRY.get(self.dataset)
                self.optimizer = spec.optimizer if spec else "sgd"

    @property
    def data_name(self):
        """The dataset's name in run folders: the bundled name, or the stem of the --data file."""
        return os.path.splitext(os.path.basename(self.data))[0] if self.data else self.dataset

    def load_data(self, seed=0):
        if self.data:
            return own_data.load_file(self.data, self.target, self.task, seed)
        return datasets.load(self.dataset, self.data_dir, self.subset, seed)

    def validate(self):
        if self.data is not None and not (os.path.isfile(self.data) and self.data.endswith((".npz", ".csv"))):
            raise ConfigError(f"--data: must be an existing .npz or .csv file. Received: {self.data!r}")
        if self.target is not None and not (self.data or "").endswith(".csv"):
            raise ConfigError(f"--target: only with a --data .csv file. Received: --target {self.target!r}")
        if self.data and self.data.endswith(".csv") and not self.target:
            raise ConfigError(f"--target: a --data .csv needs the name of its target column ({self.data!r})")
        if self.task not in (None, "classification", "regression"):
            raise ConfigError(
                f"--task: invalid choice {self.task!r} (choose from classification, regression)"
            )
        checks_for = [
            (
                "dataset",
                self.dataset,
                (self.dataset,) if self.data or self.in_memory else tuple(datasets.REGISTRY),
            ),
            ("optimizer", self.optimizer, arms.OPTIMIZERS),
            ("method", self.method, tuple(SUGGESTION_METHODS)),
        ]
        for name, value, choices in checks_for:
            if value not in choices:
                raise ConfigError(
                    f"--{name.replace('_', '-')}: invalid choice {value!r} (choose from {', '.join(choices)})"
                )
        for name in ("batch_size", "num_steps", "subset", "epochs", "seeds", "grid_seeds"):
            value = getattr(self, name, None)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(
                    f"--{name.replace('_', '-')}: must be a positive integer. Received: {value!r}"
                )
        if self.num_steps < 2:
            raise ConfigError(f"--num-steps: must be at least 2. Received: {self.num_steps!r}")
        if not isinstance(self.seed, int) or self.seed < 0 or self.seed >= 2**32:
            raise ConfigError(f"--seed: must be an integer in [0, 2**32). Received: {self.seed!r}")
        if self.data_dir is not None and not os.path.isdir(self.data_dir):
            raise ConfigError(f"--data-dir: {self.data_dir!r} is not a folder")
        if getattr(self, "verbose", None) not in (None, 0, 1, 2):
            raise ConfigError(f"--verbose: must be 0, 1 or 2. Received: {self.verbose!r}")
        if getattr(self, "max_lr", None) is not None and not _positive_rate(self.max_lr):
            raise ConfigError(f"--max-lr: must be a finite number > 0. Received: {self.max_lr!r}")
        return self

    def run_name(self):
        parts = [self.command, self.data_name]
        if self.model:
            model = getattr(self.model, "__name__", self.model)
            parts.append(os.path.splitext(os.path.basename(str(model).replace(":", "-")))[0])
        parts += [self.optimizer, f"bs{self.batch_size}"]
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
        "epochs per arm; default per dataset: "
        + ", ".join(f"{k} {v.epochs}" for k, v in datasets.REGISTRY.items())
        + f"; {DEFAULT_USER_EPOCHS} for --data",
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
    grid_seeds: int | None = _field(
        1,
        "run the grids of --lrs on the first N seeds only; a best rate at a grid's edge extends it by half a "
        "decade (twice a side at most), then each family's chosen rate runs on every seed",
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
        if self.epochs is None:
            spec = datasets.REGISTRY.get(self.dataset)
            self.epochs = DEFAULT_USER_EPOCHS if self.data or not spec else spec.epochs

    def arm_list(self):
        return [arms.canonical(a.strip()) for a in self.arms.split(",")]

    def rate_grid(self, suggestion=None):
        """The rates of `--lrs`, sorted (the 'auto' grid needs the suggestion), or None."""
        if not self.lrs or self.lrs == "none":
            return None
        if self.lrs == "auto":
            return None if suggestion is None else [float(suggestion * 10**e) for e in AUTO_GRID_EXPONENTS]
        return sorted(float(v) for v in str(self.lrs).split(","))

    def centered_grid(self, center):
        """The grid of an arm with its own centre (ScheduleFreeAdamW): its default times 10^-1 ...
        10^1 in half decades, unless `--lrs` is 'none' (the centre only)."""
        if self.lrs == "none":
            return None
        return [float(center * 10**e) for e in CENTERED_GRID_EXPONENTS]

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
                    f"--lrs: must be 'auto', 'none' or distinct finite rates > 0 separated by commas. Received: {self.lrs!r}"
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
        self.schedule = arms.canonical(self.schedule)
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
    # run folders written before grids ran the suggestion only, and ran a grid on every seed
    record = {"lrs": "none", "grid_seeds": None, **record}
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in record.items() if k in names})


def to_dict(config):
    record = {"command": config.command, **dataclasses.asdict(config)}
    if callable(record.get("model")):  # the Python API's model function: stored by name
        record["model"] = getattr(record["model"], "__name__", "model")
    return record
