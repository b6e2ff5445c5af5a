"""The commands' options: groups composed per command, each validating itself; config.json flat;
`--resume` continuing a stored config. Pure code: no training, no backend."""

import dataclasses
import glob
import json
import os

import pytest

from onecycle.experiments import arms, config
from onecycle.experiments.errors import ConfigError

pytestmark = pytest.mark.backend_independent

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_options_go_to_their_group_and_an_unknown_one_is_named():
    c = config.CompareConfig.from_options(
        dataset="wine", model="mlp", num_steps=50, seeds=2, out="x", data=None
    )
    assert (c.data.dataset, c.model.spec, c.range_test.num_steps, c.arms.seeds, c.output.out) == (
        "wine",
        "mlp",
        50,
        2,
        "x",
    )
    assert c.model.optimizer == "adam" and c.arms.epochs == 100  # the dataset's defaults
    with pytest.raises(ConfigError, match="takes no option schedule"):
        config.CompareConfig.from_options(schedule="cosine")


def test_each_command_has_its_own_defaults_without_inheriting_a_base_class_of_options():
    train = config.TrainConfig.from_options(schedule="cosine")
    compare = config.CompareConfig.from_options()
    assert (train.arms.seeds, train.arms.lrs, train.arms.arms) == (1, "none", "cosine")
    assert (compare.arms.seeds, compare.arms.lrs) == (3, "auto")
    assert "arms" not in {config.key_of(f) for _, f in config.TrainConfig.options()}  # its arm is --schedule
    for cls in config.COMMANDS.values():
        for name, group in cls.groups().items():
            assert dataclasses.is_dataclass(group) and hasattr(group, "validate"), (cls.command, name)
        keys = [config.key_of(f) for _, f in cls.options()]
        assert len(keys) == len(set(keys)), cls.command  # one option, one group


@pytest.mark.parametrize(
    "command, options, message",
    [
        ("compare", {"dataset": "nope"}, "--dataset: invalid choice 'nope'"),
        ("compare", {"batch_size": 0}, "--batch-size: must be a positive integer. Received: 0"),
        ("compare", {"num_steps": 1}, "--num-steps: must be at least 2. Received: 1"),
        ("compare", {"seed": -1}, r"--seed: must be an integer in \[0, 2\*\*32\). Received: -1"),
        ("compare", {"lrs": "0.1,x"}, "--lrs: must be 'auto', 'none' or distinct"),
        ("compare", {"max_lr": float("nan")}, "--max-lr: must be a finite number > 0. Received: nan"),
        ("compare", {"arms": "constant,constant"}, "--arms: an arm is named twice"),
        ("compare", {"rerun": "cosine"}, "--rerun needs --resume RUN_DIR"),
        ("compare", {"resume": "/nonexistent"}, "--resume: '/nonexistent' holds no config.json"),
        ("train", {"schedule": "sgdr"}, "--schedule: invalid choice 'sgdr'"),
        ("find-lr", {"method": "lowest"}, "--method: invalid choice 'lowest'"),
        ("report", {}, "run_dir: the run folder whose report to rebuild is needed"),
    ],
)
def test_every_group_validates_its_own_options_naming_flag_and_value(command, options, message):
    with pytest.raises(ConfigError, match=message):
        config.COMMANDS[command].from_options(**options).validate()


def test_config_json_is_flat_with_the_command_lines_names_and_round_trips():
    c = config.TrainConfig.from_options(dataset="wine", data=None, model="mlp", schedule="wsd", max_lr=0.1)
    record = c.to_dict()
    assert record["command"] == "train" and record["model"] == "mlp" and record["schedule"] == "wsd"
    assert all(not isinstance(v, dict) for v in record.values())
    assert config.from_dict(json.loads(json.dumps(record))).to_dict() == record


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "docs", "runs", "*", "config.json"))))
def test_every_stored_run_folders_config_loads_and_is_written_back_the_same(path):
    with open(path) as f:
        record = json.load(f)
    again = config.from_dict(record).to_dict()
    for key in ("arms", "schedule"):  # old arm names are read as today's (constant-best: constant)
        if key in record:
            record[key] = ",".join(arms.canonical(a) for a in record[key].split(","))
            again[key] = ",".join(arms.canonical(a) for a in again[key].split(","))
    assert {k: again[k] for k in record if k in again} == {k: v for k, v in record.items() if k in again}


def _stored(tmp_path, **options):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    stored = config.CompareConfig.from_options(
        dataset="wine", out=str(run), seeds=2, arms="constant", **options
    )
    (run / "config.json").write_text(json.dumps(stored.to_dict()))
    return stored, str(run)


def test_resume_continues_the_stored_run_adding_seeds_and_arms(tmp_path):
    stored, run = _stored(tmp_path)
    c = config.resumed(stored, {"resume": run, "seeds": 3, "arms": "cosine", "rerun": "wsd", "verbose": 0})
    assert c.arms.arm_list() == ["constant", "cosine", "wsd"] and c.arms.seeds == 3 and c.arms.verbose == 0
    assert c.output.out == run and c.resume.rerun_list() == ["wsd"]


def test_resume_refuses_a_changed_option_and_fewer_seeds(tmp_path):
    stored, run = _stored(tmp_path)
    with pytest.raises(
        ConfigError, match=r"--batch-size: .* was run with --batch-size 32; .* Received: --batch-size 64"
    ):
        config.resumed(stored, {"resume": run, "batch_size": 64})
    with pytest.raises(ConfigError, match="--seeds: .* may add seeds, not drop them. Received: --seeds 1"):
        config.resumed(stored, {"resume": run, "seeds": 1})
    assert config.resumed(stored, {"resume": run, "batch_size": 32}).model.batch_size == 32  # the same: fine
