"""The options of each command, as small dataclasses of documented fields, each validating itself.

A command's config is composed of option groups (what to train on, the model, the range test, the
arms, where to write, how to resume); the CLI options are generated from their fields and
config.json stores them flat, one key per option, as the command line names them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import TYPE_CHECKING, Any, ClassVar

from onecycle import DEFAULT_SUGGESTION, SUGGESTION_METHODS
from onecycle.experiments import arms, datasets, own_data
from onecycle.experiments.errors import ConfigError

if TYPE_CHECKING:
    from typing import Self

    from onecycle.experiments.datasets import Dataset

AUTO_GRID_EXPONENTS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5)
CENTERED_GRID_EXPONENTS = (-1.0, -0.5, 0.0, 0.5, 1.0)
DEFAULT_USER_EPOCHS = 20


def _positive_rate(value):
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _field(default, help, **metadata):
    """A documented option. metadata: `positional`; `key`, the option's name on the command line and
    in config.json where it differs from the attribute's."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def key_of(field: dataclasses.Field) -> str:
    """The name of an option on the command line (`--key-name`) and in config.json (`key_name`)."""
    return field.metadata.get("key", field.name)


def flag_of(field: dataclasses.Field) -> str:
    return key_of(field) if field.metadata.get("positional") else f"--{key_of(field).replace('_', '-')}"


def _positive_int(flag, value):
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise ConfigError(f"{flag}: must be a positive integer. Received: {value!r}")


def _folders(value):
    """The folders of a comma-separated `--baselines`."""
    return [b.strip() for b in value.split(",")] if value else []


def _check_baselines(folders):
    for folder in folders:
        if not os.path.isfile(os.path.join(folder, "results.json")):
            raise ConfigError(f"--baselines: {folder!r} holds no results.json")


def relative_folders(folders: list[str], run_dir: str) -> list[str]:
    """`folders` relative to `run_dir`, as results.json stores its baselines."""
    return [os.path.relpath(os.path.abspath(f), os.path.abspath(run_dir)) for f in folders]


def _one_of(flag, value, choices):
    if value not in choices:
        raise ConfigError(f"{flag}: invalid choice {value!r} (choose from {', '.join(choices)})")


@dataclasses.dataclass
class DataOptions:
    """The data: a bundled dataset, or the user's own file."""

    dataset: str = _field(
        "digits", "dataset: " + ", ".join(datasets.REGISTRY) + " (ignored with --data)", positional=True
    )
    file: str | None = _field(
        None,
        "your own data instead of a bundled dataset: an .npz with x_train, y_train (optionally x_val, y_val, "
        "x_test, y_test) or a .csv with a header row and --target",
        key="data",
    )
    target: str | None = _field(None, "the target column of a --data .csv")
    task: str | None = _field(
        None,
        "classification or regression; default for --data: classification when the target is text or integers "
        f"with at most {own_data.MAX_CLASSES} values, else regression",
    )
    subset: int | None = _field(None, "use only this many training samples (and at most as many val/test)")
    data_dir: str | None = _field(
        None, f"folder with local copies of the datasets (or ${datasets.DATA_DIR_ENV})"
    )
    in_memory: bool = False  # the Python API's arrays: no bundled dataset to check `dataset` against

    @property
    def name(self) -> str:
        """The dataset's name in run folders: the bundled name, or the stem of the --data file."""
        return os.path.splitext(os.path.basename(self.file))[0] if self.file else self.dataset

    def default_optimizer(self) -> str:
        if self.file:
            return "adam" if own_data.is_table_file(self.file) else "sgd"
        spec = datasets.REGISTRY.get(self.dataset)
        return spec.optimizer if spec else "sgd"

    def default_epochs(self) -> int:
        spec = datasets.REGISTRY.get(self.dataset)
        return DEFAULT_USER_EPOCHS if self.file or not spec else spec.epochs

    def load(self, seed: int = 0) -> Dataset:
        if self.file:
            return own_data.load_file(self.file, self.target, self.task, seed)
        return datasets.load(self.dataset, self.data_dir, self.subset, seed)

    def validate(self):
        if self.file is not None and not (os.path.isfile(self.file) and self.file.endswith((".npz", ".csv"))):
            raise ConfigError(f"--data: must be an existing .npz or .csv file. Received: {self.file!r}")
        if self.target is not None and not (self.file or "").endswith(".csv"):
            raise ConfigError(f"--target: only with a --data .csv file. Received: --target {self.target!r}")
        if self.file and self.file.endswith(".csv") and not self.target:
            raise ConfigError(f"--target: a --data .csv needs the name of its target column ({self.file!r})")
        if self.task is not None:
            _one_of("--task", self.task, ("classification", "regression"))
        if not (self.file or self.in_memory):
            _one_of("--dataset", self.dataset, tuple(datasets.REGISTRY))
        _positive_int("--subset", self.subset)
        if self.data_dir is not None and not os.path.isdir(self.data_dir):
            raise ConfigError(f"--data-dir: {self.data_dir!r} is not a folder")


@dataclasses.dataclass
class ModelOptions:
    """The model, its optimizer and batch size."""

    spec: str | None = _field(
        None,
        "the model: a name (mlp, cnn, resnet9), PATH.py:FUNCTION or module:function, the function taking "
        "(input_shape, num_outputs) and returning an uncompiled Keras model; default: the MLP for tables, "
        "the CNN for images",
        key="model",
    )
    optimizer: str | None = _field(
        None,
        "optimizer: "
        + ", ".join(arms.OPTIMIZERS)
        + "; default per dataset: "
        + ", ".join(f"{k} {v.optimizer}" for k, v in datasets.REGISTRY.items())
        + "; for --data: adam for tables, sgd for images",
    )
    batch_size: int = _field(32, "batch size (of the range test too: use the one you will train with)")

    @property
    def model_name(self) -> str | None:
        """The model as run folders name it: the spec, or the Python API's function by name."""
        spec = self.spec
        return spec if isinstance(spec, str) or spec is None else getattr(spec, "__name__", "model")

    def validate(self):
        _one_of("--optimizer", self.optimizer, arms.OPTIMIZERS)
        _positive_int("--batch-size", self.batch_size)


@dataclasses.dataclass
class RangeTestOptions:
    """The range test.

    Its length, the rule that reads its curve, the seed of its model and data order."""

    num_steps: int = _field(200, "steps of the range test")
    method: str = _field(DEFAULT_SUGGESTION, "suggestion method: " + ", ".join(SUGGESTION_METHODS))
    seed: int = _field(0, "random seed of the range test's model and data order")

    def validate(self):
        _positive_int("--num-steps", self.num_steps)
        if self.num_steps < 2:
            raise ConfigError(f"--num-steps: must be at least 2. Received: {self.num_steps!r}")
        _one_of("--method", self.method, tuple(SUGGESTION_METHODS))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"--seed: must be an integer in [0, 2**32). Received: {self.seed!r}")


@dataclasses.dataclass
class ArmOptions:
    """The arms, their budget, seeds and rates."""

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

    def arm_list(self) -> list[str]:
        return [arms.canonical(a.strip()) for a in self.arms.split(",")]

    def rate_grid(self, suggestion: float | None = None) -> list[float] | None:
        """The rates of `--lrs`, sorted (the 'auto' grid needs the suggestion), or None."""
        if not self.lrs or self.lrs == "none":
            return None
        if self.lrs == "auto":
            return None if suggestion is None else [float(suggestion * 10**e) for e in AUTO_GRID_EXPONENTS]
        return sorted(float(v) for v in str(self.lrs).split(","))

    def centered_grid(self, center: float) -> list[float] | None:
        """The grid of an arm with its own centre (ScheduleFreeAdamW): its default times 10^-1 ...
        10^1 in half decades, unless `--lrs` is 'none' (the centre only)."""
        if self.lrs == "none":
            return None
        return [float(center * 10**e) for e in CENTERED_GRID_EXPONENTS]

    def baseline_folders(self) -> list[str]:
        return _folders(self.baselines)

    def validate(self):
        names = self.arm_list()
        unknown = [repr(a) for a in names if a not in arms.NAMES]
        if unknown:
            raise ConfigError(
                f"--arms: unknown arm {', '.join(unknown)} in {self.arms!r} (choose from {', '.join(arms.NAMES)})"
            )
        if len(set(names)) != len(names):
            raise ConfigError(f"--arms: an arm is named twice in {self.arms!r}")
        for name in ("epochs", "seeds", "grid_seeds"):
            _positive_int(f"--{name.replace('_', '-')}", getattr(self, name))
        if self.max_lr is not None and not _positive_rate(self.max_lr):
            raise ConfigError(f"--max-lr: must be a finite number > 0. Received: {self.max_lr!r}")
        if self.lrs not in (None, "auto", "none"):
            try:
                grid = [float(v) for v in str(self.lrs).split(",")]
            except ValueError:
                grid = None
            if not grid or not all(_positive_rate(v) for v in grid) or len(set(grid)) != len(grid):
                raise ConfigError(
                    f"--lrs: must be 'auto', 'none' or distinct finite rates > 0 separated by commas. Received: {self.lrs!r}"
                )
        _check_baselines(self.baseline_folders())
        if self.verbose not in (None, 0, 1, 2):
            raise ConfigError(f"--verbose: must be 0, 1 or 2. Received: {self.verbose!r}")


@dataclasses.dataclass
class ScheduleOptions:
    """The schedule `onecycle train` trains with (its one arm)."""

    schedule: str = _field("onecycle", "the schedule to train with: " + ", ".join(arms.NAMES))

    def validate(self):
        _one_of("--schedule", arms.canonical(self.schedule), arms.NAMES)


@dataclasses.dataclass
class OutputOptions:
    """Where the run folder is written."""

    out: str | None = _field(None, "run folder; default runs/<name from the config>")
    overwrite: bool = _field(False, "write into an existing non-empty run folder")

    def validate(self):
        pass


@dataclasses.dataclass
class ResumeOptions:
    """Resuming a run folder.

    Continues an interrupted or finished run. Not stored: it says how the command was called, not
    what the run is."""

    STORED: ClassVar[bool] = False  # not in config.json

    run_dir: str | None = _field(
        None,
        "continue an interrupted run in RUN_DIR; finished arms and seeds are kept",
        key="resume",
        metavar="RUN_DIR",
    )
    rerun: str | None = _field(
        None,
        "with --resume: train these arms (comma-separated) again; their stored trainings are removed from "
        "results.json first",
        metavar="ARMS",
    )

    def rerun_list(self) -> list[str]:
        return [name.strip() for name in self.rerun.split(",")] if self.rerun else []

    def validate(self):
        if self.rerun and not self.run_dir:
            raise ConfigError(f"--rerun needs --resume RUN_DIR. Received: --rerun {self.rerun!r} alone")
        unknown = [name for name in self.rerun_list() if name not in arms.NAMES]
        if unknown:
            raise ConfigError(f"--rerun: unknown arm {unknown[0]!r}; known: {', '.join(arms.NAMES)}")
        if self.run_dir is not None and not os.path.isfile(os.path.join(self.run_dir, "config.json")):
            raise ConfigError(f"--resume: {self.run_dir!r} holds no config.json")


@dataclasses.dataclass
class ReportOptions:
    """The report's run folder, and more folders whose runs join it."""

    STORED: ClassVar[bool] = False  # rebuilds a report: no config.json of its own

    run_dir: str = _field(None, "the run folder", positional=True)
    baselines: str | None = _field(
        None, "comma-separated run folders whose runs join the comparison (stored in results.json)"
    )

    def validate(self):
        if not self.run_dir:
            raise ConfigError("run_dir: the run folder whose report to rebuild is needed. Received: nothing")
        if not os.path.isfile(os.path.join(self.run_dir, "results.json")):
            raise ConfigError(f"run_dir: {self.run_dir!r} holds no results.json")
        _check_baselines(self.baseline_folders())

    def baseline_folders(self) -> list[str]:
        return _folders(self.baselines)


class _Command:
    """What every command's config shares: built from flat option values (the command line's,
    config.json's, the Python API's), validated group by group, flattened back for config.json."""

    command: ClassVar[str]
    DEFAULTS: ClassVar[dict[str, Any]] = {}  # this command's own defaults of shared options
    HIDDEN: ClassVar[tuple[str, ...]] = ()  # options of a group this command does not take

    @classmethod
    def groups(cls) -> dict[str, type]:
        """attribute -> option group, in the order of the fields (and of --help and config.json)."""
        return {f.name: f.default_factory for f in dataclasses.fields(cls)}

    @classmethod
    def options(cls) -> list[tuple[str, dataclasses.Field]]:
        """(group attribute, field) of every option the command line takes, in order."""
        return [
            (attribute, field)
            for attribute, group in cls.groups().items()
            for field in dataclasses.fields(group)
            if "help" in field.metadata and key_of(field) not in cls.HIDDEN
        ]

    @classmethod
    def default_of(cls, field):
        return cls.DEFAULTS.get(key_of(field), field.default)

    @classmethod
    def from_options(cls, **values: Any) -> Self:
        """The config of these option values (keys as on the command line, `max_lr`; missing ones take
        their defaults). An unknown key is an error naming it."""
        groups = {}
        for attribute, group in cls.groups().items():
            fields = {key_of(f): f.name for f in dataclasses.fields(group)}
            given = {name: values.pop(key) for key, name in fields.items() if key in values}
            defaults = {
                f.name: cls.DEFAULTS[key_of(f)]
                for f in dataclasses.fields(group)
                if key_of(f) in cls.DEFAULTS
            }
            groups[attribute] = group(**{**defaults, **given})
        if values:
            raise ConfigError(f"`{cls.command}` takes no option {', '.join(sorted(values))}")
        return cls(**groups)

    def validate(self) -> Self:
        for attribute in self.groups():
            getattr(self, attribute).validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        """The stored options, flat, as config.json holds them."""
        record = {"command": self.command}
        for attribute, kind in self.groups().items():
            if not getattr(kind, "STORED", True):  # a group says so when it is not stored
                continue
            group = getattr(self, attribute)
            for field in dataclasses.fields(group):
                record[key_of(field)] = getattr(group, field.name)
        if callable(record.get("model")):  # the Python API's model function: stored by name
            record["model"] = getattr(record["model"], "__name__", "model")
        return record


@dataclasses.dataclass
class FindLRConfig(_Command):
    """`onecycle find-lr`: the learning-rate range test on a dataset's model."""

    data: DataOptions = dataclasses.field(default_factory=DataOptions)
    model: ModelOptions = dataclasses.field(default_factory=ModelOptions)
    range_test: RangeTestOptions = dataclasses.field(default_factory=RangeTestOptions)
    output: OutputOptions = dataclasses.field(default_factory=OutputOptions)

    command: ClassVar[str] = "find-lr"

    def __post_init__(self):
        if self.model.optimizer is None:
            self.model.optimizer = self.data.default_optimizer()

    def run_name(self) -> str:
        parts = [self.command, self.data.name]
        if self.model.spec:
            model = str(self.model.model_name)
            parts.append(os.path.splitext(os.path.basename(model.replace(":", "-")))[0])
        parts += [self.model.optimizer, f"bs{self.model.batch_size}"]
        parts += self._budget_parts()
        if self.data.subset:
            parts.append(f"n{self.data.subset}")
        return "-".join(parts)

    def _budget_parts(self):
        return []

    def out_dir(self) -> str:
        return self.output.out or os.path.join("runs", self.run_name())


@dataclasses.dataclass
class CompareConfig(FindLRConfig):
    """`onecycle compare`: range test, then every arm trained over several seeds, then the report."""

    arms: ArmOptions = dataclasses.field(default_factory=ArmOptions)
    resume: ResumeOptions = dataclasses.field(default_factory=ResumeOptions)

    command: ClassVar[str] = "compare"

    def __post_init__(self):
        super().__post_init__()
        if self.arms.epochs is None:
            self.arms.epochs = self.data.default_epochs()

    def _budget_parts(self):
        return [f"e{self.arms.epochs}", f"s{self.arms.seeds}"]

    def baseline_list(self) -> list[str]:
        """The `--baselines` folders, relative to the run folder (as results.json stores them)."""
        return relative_folders(self.arms.baseline_folders(), self.out_dir())


@dataclasses.dataclass
class TrainConfig(CompareConfig):
    """`onecycle train`: one arm (schedule), one or more seeds."""

    schedule: ScheduleOptions = dataclasses.field(default_factory=ScheduleOptions)

    command: ClassVar[str] = "train"
    DEFAULTS: ClassVar[dict[str, Any]] = {"seeds": 1, "lrs": "none"}
    HIDDEN: ClassVar[tuple[str, ...]] = ("arms",)  # its one arm is --schedule

    def __post_init__(self):
        super().__post_init__()
        self.schedule.schedule = arms.canonical(self.schedule.schedule)
        self.arms.arms = self.schedule.schedule

    def validate(self):
        self.schedule.validate()  # before the arms it sets
        return super().validate()

    def run_name(self):
        return f"{super().run_name()}-{self.schedule.schedule}"


@dataclasses.dataclass
class ReportConfig(_Command):
    """`onecycle report`: rebuild report.md and the plots of a run folder from its results.json."""

    report: ReportOptions = dataclasses.field(default_factory=ReportOptions)

    command: ClassVar[str] = "report"


COMMANDS = {"find-lr": FindLRConfig, "train": TrainConfig, "compare": CompareConfig, "report": ReportConfig}
RESUME_OPTIONS = ("seeds", "arms", "verbose")  # --resume may add seeds and arms, change the progress shown


def from_dict(record: dict[str, Any]) -> _Command:
    """The config saved in a run folder's config.json."""
    cls = COMMANDS[record["command"]]
    # run folders written before grids ran the suggestion only, and ran a grid on every seed
    record = {"lrs": "none", "grid_seeds": None, **record}
    known = {key_of(f) for group in cls.groups().values() for f in dataclasses.fields(group)}
    return cls.from_options(**{k: v for k, v in record.items() if k in known})


def resumed(stored: CompareConfig, given: dict[str, Any]) -> CompareConfig:
    """The config of a run folder's `--resume`: `stored` (its config.json, as a config) continued
    with the options `given` on the command line. An option given that differs from the stored one
    is an error naming both; `--seeds` may only grow and `--arms` only add (with `--rerun`'s arms)."""
    cls, record = type(stored), {k: v for k, v in stored.to_dict().items() if k != "command"}
    run_dir = given.get("resume")
    for _, field in cls.options():
        key = key_of(field)
        if key in RESUME_OPTIONS or key in ("resume", "rerun") or key not in given:
            continue
        if given[key] != record.get(key):
            flag = flag_of(field)
            raise ConfigError(
                f"{flag}: {run_dir!r} was run with {flag} {record.get(key)!r}; --resume continues it "
                f"as it was. Received: {flag} {given[key]!r} (start a new run folder to change it)"
            )
    seeds = given.get("seeds")
    if seeds is not None and seeds < stored.arms.seeds:
        raise ConfigError(
            f"--seeds: {run_dir!r} was run with --seeds {stored.arms.seeds}; --resume may add seeds, not drop them. "
            f"Received: --seeds {seeds}"
        )
    config = cls.from_options(**{**record, "resume": run_dir, "rerun": given.get("rerun")})
    config.output.out = run_dir
    if seeds is not None:
        config.arms.seeds = seeds
    if "verbose" in given:
        config.arms.verbose = given["verbose"]
    more = [*(given["arms"].split(",") if given.get("arms") else []), *config.resume.rerun_list()]
    if more:  # more arms for a run: --resume DIR --arms A,B (added to its own), and those rerun
        added = list(dict.fromkeys(a.strip() for a in more if a.strip() not in config.arms.arm_list()))
        if added:
            config.arms.arms = ",".join([config.arms.arms, *added])
    return config.validate()
