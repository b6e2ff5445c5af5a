"""Every subcommand end to end on tiny budgets, and the bad inputs of the CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from onecycle.experiments import datasets, models
from onecycle.experiments.cli import main

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
TINY = [
    "--epochs",
    "2",
    "--seeds",
    "1",
    "--subset",
    "160",
    "--num-steps",
    "20",
    "--verbose",
    "0",
    "--lrs",
    "none",
]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_find_lr_writes_curve(tmp_path, capsys):
    code, out, _ = _run(capsys, "find-lr", "digits", "--num-steps", "30", "--out", str(tmp_path / "f"))
    assert code == 0 and "suggested max learning rate (edge)" in out
    assert {"finder.json", "finder.png", "config.json"} <= set(os.listdir(tmp_path / "f"))


def test_compare_then_report(tmp_path, capsys):
    out_dir = tmp_path / "c"
    code, out, _ = _run(
        capsys,
        "compare",
        "digits",
        *TINY,
        "--method",  # on a 20-step test the "edge" peak is the sweep's end / 10, which the guard turns down
        "minimum",
        "--arms",
        "constant-default,onecycle,onecycle-short,cosine",
        "--out",
        str(out_dir),
    )
    assert code == 0
    results = json.loads((out_dir / "results.json").read_text())
    summary = {row["arm"]: row for row in results["summary"]}
    assert set(summary) == {"constant-default", "onecycle", "onecycle-short", "cosine"}
    for row in summary.values():
        assert {"arm", "metric", "test_mean", "test_std", "best_val_mean", "epochs_to_baseline_best"} <= set(
            row
        )
        assert row["metric"] == "accuracy" and 0 <= row["test_mean"] <= 1
    assert summary["onecycle-short"]["epochs"] == 1
    assert [r["arm"] for r in results["runs"]][:2] == ["onecycle", "onecycle-short"]  # the product first
    run = results["runs"][0]
    assert run["arm"] == "onecycle" and len(run["epochs"]) == 2 and run["peak_lr"] > 0
    assert run["epochs"][-1]["momentum"] == pytest.approx(0.95)
    import keras

    environment = run["environment"]  # what it ran on, stored with each training
    assert environment["keras"] == keras.__version__ and environment["backend"] == keras.backend.backend()
    assert environment["cpu_count"] == os.cpu_count() and environment["python"] == sys.version.split()[0]
    for name in ("report.md", "finder.png", "schedules.png", "val_metric.png", "config.json"):
        assert (out_dir / name).exists()
    assert not [n for n in os.listdir(out_dir) if n.endswith(".tmp")]
    (out_dir / "report.md").unlink()
    code, out, _ = _run(capsys, "report", str(out_dir))
    assert code == 0 and "| onecycle |" in (out_dir / "report.md").read_text()


def test_train_one_schedule_and_resume(tmp_path, capsys):
    out_dir = tmp_path / "t"
    code, _, _ = _run(
        capsys, "train", "digits", "--schedule", "onecycle", *TINY, "--max-lr", "0.05", "--out", str(out_dir)
    )
    assert code == 0
    results = json.loads((out_dir / "results.json").read_text())
    assert [r["arm"] for r in results["runs"]] == ["onecycle"] and results["max_lr"] == 0.05
    # resuming a finished run keeps it as it is
    code, _, _ = _run(capsys, "train", "--resume", str(out_dir))
    assert code == 0
    assert json.loads((out_dir / "results.json").read_text())["runs"] == results["runs"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "dataset,needs",
    [
        ("fashion_mnist", datasets.FASHION_MNIST_SYSTEM_DIR),
        ("boston_housing", os.path.join(SHARED_DATA, "boston_housing")),
        ("cifar10", os.path.join(SHARED_DATA, "cifar10")),
    ],
)
def test_real_dataset_subsets(tmp_path, capsys, dataset, needs):
    if not os.path.exists(needs):
        pytest.skip(f"{needs} is not on this machine")
    out_dir = tmp_path / dataset
    code, _, err = _run(
        capsys,
        "compare",
        dataset,
        *TINY,
        "--arms",
        "constant-best,onecycle",
        *(
            ["--data-dir", SHARED_DATA] if os.path.isdir(SHARED_DATA) else []
        ),  # Fashion-MNIST may come from Debian's package
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert results["dataset"]["metric"] == ("rmse" if dataset == "boston_housing" else "accuracy")
    assert results["dataset"]["train"] == 160


def test_loaders_match_keras_split():
    if not os.path.exists(os.path.join(SHARED_DATA, "boston_housing")):
        pytest.skip("no local Boston Housing")
    (x, y), (xt, yt), _ = datasets.load_boston_housing(SHARED_DATA)
    assert x.shape == (404, 13) and xt.shape == (102, 13)
    assert list(x[0, :3]) == pytest.approx([1.23247, 0.0, 8.14]) and y[0] == 15.2 and yt[0] == 7.2


def test_idx_reader_on_tiny_files(tmp_path):
    import gzip
    import struct

    import numpy as np

    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        images = np.zeros((n, 28, 28), np.uint8)
        images[:, 0, 0] = np.arange(n) % 256
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBB3I", 0, 8, 3, n, 28, 28) + images.tobytes())
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBBI", 0, 8, 1, n) + (np.arange(n) % 10).astype(np.uint8).tobytes())
    (x, y), (xt, yt), source = datasets.load_fashion_mnist(str(tmp_path))
    assert x.shape == (60000, 28, 28, 1) and x[3, 0, 0, 0] == 3 and y[13] == 3 and str(folder) in source


def _bad(tmp_path, capsys, *argv):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["compare", "mnist"], "'mnist'"),
        (["compare", "digits", "--arms", "onecycle,warp"], "--arms"),
        (["compare", "digits", "--optimizer", "lion"], "--optimizer"),
        (["compare", "digits", "--epochs", "0"], "--epochs"),
        (["compare", "digits", "--batch-size", "-1"], "--batch-size"),
        (["compare", "digits", "--seeds", "0"], "--seeds"),
        (["compare", "digits", "--epochs", "two"], "--epochs"),
        (["compare", "digits", "--max-lr", "nan"], "--max-lr"),
        (["train", "digits", "--schedule", "step"], "--schedule"),
        (["find-lr", "digits", "--method", "guess"], "--method"),
        (["report", "/nonexistent/run"], "run_dir"),
        (["find-lr", "digits", "--num-steps", "1"], "--num-steps"),
        (["find-lr", "digits", "--batch-size", "abc"], "--batch-size"),
        (["compare", "digits", "--seed", "-1"], "--seed"),
        (["compare", "digits", "--subset", "0"], "--subset"),
        (["compare", "digits", "--max-lr", "inf"], "--max-lr"),
        (["compare", "digits", "--max-lr", "-0.1"], "--max-lr"),
        (["compare", "digits", "--arms", "onecycle,,"], "--arms"),
        (["compare", "digits", "--arms", "onecycle,onecycle"], "--arms"),
        (["compare", "digits", "--verbose", "3"], "--verbose"),
        (["compare", "digits", "--data-dir", "/nonexistent/data"], "--data-dir"),
        (["compare", "digits", "--no-such-option", "1"], "--no-such-option"),
        (["compare", "--resume", "/nonexistent/run"], "--resume"),
        (["compare", "digits", "--rerun", "cosine"], "--rerun"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, argv, expected):
    out_dir = tmp_path / "out"
    line = _bad(tmp_path, capsys, *argv, *(["--out", str(out_dir)] if argv[0] != "report" else []))
    assert expected in line
    assert not out_dir.exists()


def test_non_empty_or_unwritable_out(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    assert "--out" in _bad(tmp_path, capsys, "compare", "digits", "--out", str(taken))
    assert os.listdir(taken) == ["notes.txt"]
    assert "--out" in _bad(tmp_path, capsys, "compare", "digits", "--out", str(taken / "notes.txt" / "run"))
    assert "--out" in _bad(tmp_path, capsys, "compare", "digits", "--out", "/proc/onecycle-run")


def test_wrong_shape_data_file(tmp_path, capsys):
    folder = tmp_path / "data" / "boston_housing"
    folder.mkdir(parents=True)
    (folder / "housing.data").write_text("1 2 3\n4 5 6\n")
    line = _bad(
        tmp_path,
        capsys,
        "compare",
        "boston_housing",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "o"),
    )
    assert "housing.data" in line and "(2, 3)" in line
    assert not (tmp_path / "o").exists()


def test_module_entry_point_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "onecycle", "compare", "digits", "--epochs", "-3"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--epochs" in proc.stderr


def test_cifar10_keras_layout(tmp_path):
    import pickle

    import numpy as np

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [1, 2, 3, 4]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (x, y), (xt, yt), source = datasets.load_cifar10(str(tmp_path))
    assert x.shape == (20, 32, 32, 3) and xt.shape == (4, 32, 32, 3) and list(yt) == [1, 2, 3, 4]
    raw = pickle.loads((folder / "test_batch").read_bytes())[b"data"]
    assert x.dtype == np.uint8 and (xt[0, 0, 1, 2] == raw[0, 2 * 1024 + 1])
    assert "Keras layout" in source


def _truncated_copies(tmp_path):
    """Fashion-MNIST with its training images cut in half, and a CIFAR-10 npz cut short."""
    import gzip
    import struct

    import numpy as np

    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBB3I", 0, 8, 3, n, 28, 28) + bytes(n * 28 * 28))
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBBI", 0, 8, 1, n) + bytes(n))
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    (tmp_path / "data" / "cifar10").mkdir()
    buffer = tmp_path / "full.npz"
    np.savez(
        buffer,
        x_train=np.zeros((10, 32, 32, 3), np.uint8),
        y_train=np.zeros((10, 1), np.uint8),
        x_test=np.zeros((10, 32, 32, 3), np.uint8),
        y_test=np.zeros((10, 1), np.uint8),
    )
    (tmp_path / "data" / "cifar10" / "cifar10_jpeg_q75.npz").write_bytes(buffer.read_bytes()[:5000])
    return tmp_path / "data"


@pytest.mark.parametrize(
    "dataset,file", [("fashion_mnist", "train-images-idx3-ubyte.gz"), ("cifar10", "cifar10_jpeg_q75.npz")]
)
def test_truncated_data_file_is_named(tmp_path, capsys, dataset, file):
    data_dir = _truncated_copies(tmp_path)
    line = _bad(
        tmp_path, capsys, "compare", dataset, "--data-dir", str(data_dir), "--out", str(tmp_path / "o")
    )
    assert file in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("config,results", [('{"command": "compare", "data', None), (None, '{"runs": [')])
def test_resume_or_report_of_a_damaged_run_folder(tmp_path, capsys, config, results):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(
        config or json.dumps({"command": "compare", "dataset": "digits", "out": str(run)})
    )
    if results:
        (run / "results.json").write_text(results)
    damaged = "config.json" if config else "results.json"
    assert damaged in _bad(tmp_path, capsys, "compare", "--resume", str(run))
    if results:
        assert damaged in _bad(tmp_path, capsys, "report", str(run))
    assert sorted(p.name for p in run.iterdir()) == sorted(
        ["config.json"] + (["results.json"] if results else [])
    )


@pytest.fixture
def tiny_disk(tmp_path):
    """A 12 KiB tmpfs: room for the config and the curve, not for the plot."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(mount)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_exits_2_and_leaves_only_whole_files(tmp_path, capsys, tiny_disk):
    line = _bad(tmp_path, capsys, "find-lr", "digits", "--num-steps", "30", "--out", str(tiny_disk / "run"))
    assert "No space left on device" in line
    for path in (tiny_disk / "run").iterdir():
        assert not path.name.endswith((".tmp", ".tmp.png"))
        if path.suffix == ".json":
            json.loads(path.read_text())  # whole, not cut


@pytest.mark.parametrize(
    "dataset,task,features", [("diabetes", "regression", 10), ("breast_cancer", "classification", 30)]
)
def test_bundled_tables_split_and_train(tmp_path, capsys, dataset, task, features):
    data = datasets.load(dataset)
    sizes = data.sizes()
    assert data.task == task and data.x_train.shape[1] == features
    assert sum(sizes.values()) == {"diabetes": 442, "breast_cancer": 569}[dataset]
    assert sizes["test"] == round(0.2 * sum(sizes.values()))
    assert abs(float(data.x_train.mean())) < 1e-5  # standardized with training statistics
    model = models.for_dataset(data)
    assert model.output.shape[-1] == (2 if task == "classification" else 1)
    out_dir = tmp_path / dataset
    code, _, err = _run(capsys, "compare", dataset, *TINY, "--arms", "onecycle", "--out", str(out_dir))
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert results["dataset"]["metric"] == ("rmse" if task == "regression" else "accuracy")


def test_find_lr_prints_the_suggestion_of_the_curve_it_stores(tmp_path, capsys):
    from onecycle import LRFinderResult

    for method in ("minimum", "steepest"):
        folder = tmp_path / method
        code, out, _ = _run(
            capsys, "find-lr", "digits", "--num-steps", "30", "--method", method, "--out", str(folder)
        )
        printed = float(out.split(f"suggested max learning rate ({method}): ")[1].split()[0])
        stored = LRFinderResult.load(folder / "finder.json")
        assert code == 0 and len(stored.lrs) > 2
        assert printed == pytest.approx(stored.suggest(method), rel=5e-4)  # printed to 4 digits


def _tiny(*extra):
    return [a for a in TINY if a not in ("--lrs", "none")] + list(extra)


def test_train_runs_its_grid_of_rates(tmp_path, capsys):
    out_dir = tmp_path / "t"
    code, _, _ = _run(
        capsys,
        "train",
        "digits",
        "--schedule",
        "constant",
        *_tiny("--lrs", "0.05,0.01"),
        "--out",
        str(out_dir),
    )
    assert code == 0
    runs = json.loads((out_dir / "results.json").read_text())["runs"]
    assert sorted(r["lr"] for r in runs) == [0.01, 0.05]
    for run in runs:
        assert run["learning_rate"] == run["lr"] and [
            e["learning_rate"] for e in run["epochs"]
        ] == pytest.approx([run["lr"]] * 2)


def test_compare_resume_adds_arms_and_keeps_finished_runs(tmp_path, capsys):
    from onecycle.experiments import storage
    from onecycle.plotting import schedule_values

    out_dir = tmp_path / "c"
    # "minimum": on a 20-step test the "edge" peak is the sweep's end / 10, which the guard turns down
    code, _, _ = _run(
        capsys,
        "compare",
        "digits",
        *TINY,
        "--method",
        "minimum",
        "--arms",
        "constant-default",
        "--out",
        str(out_dir),
    )
    first = json.loads((out_dir / "results.json").read_text())["runs"]
    assert code == 0 and [r["arm"] for r in first] == ["constant-default"]
    code, out, _ = _run(
        capsys, "compare", "--resume", str(out_dir), "--arms", "constant-default,onecycle-nomom,cosine"
    )
    results = json.loads((out_dir / "results.json").read_text())
    runs = {r["arm"]: r for r in results["runs"]}
    assert code == 0 and set(runs) == {"constant-default", "onecycle-nomom", "cosine"}
    assert runs["constant-default"] == first[0]  # kept as it was, not trained again
    assert {row["arm"] for row in results["summary"]} == set(runs)
    steps = runs["cosine"]["steps_per_epoch"] * 2
    # onecycle-nomom: fit_one_cycle's own curve up to its own range test's peak, momentum held at 0.9
    nomom = storage.restore_value(runs["onecycle-nomom"]["learning_rate"])
    peak = runs["onecycle-nomom"]["peak_lr"]
    expected = np.interp(
        np.arange(steps + 1), [0, 0.45 * steps, 0.9 * steps, steps], [peak / 10, peak, peak / 10, peak / 1e4]
    )
    np.testing.assert_allclose(schedule_values(nomom, np.arange(steps + 1)), expected, rtol=1e-6)
    assert runs["onecycle-nomom"]["momentum"] == 0.9
    # cosine: a linear warm-up from a tenth of the rate over 10% of the steps, then a cosine to zero
    rate = runs["cosine"]["lr"]
    warmup = max(1, round(0.1 * steps))
    t = np.arange(steps + 1)
    expected = np.where(
        t < warmup,
        rate / 10 + (rate - rate / 10) * t / warmup,
        rate * 0.5 * (1 + np.cos(np.pi * np.minimum(t - warmup, steps - warmup) / (steps - warmup))),
    )
    cosine = storage.restore_value(runs["cosine"]["learning_rate"])
    np.testing.assert_allclose(schedule_values(cosine, t), expected, rtol=1e-5, atol=1e-9)


def test_rerun_trains_an_arm_again_and_keeps_the_others(tmp_path, capsys):
    out_dir = tmp_path / "c"
    code, _, _ = _run(
        capsys,
        "compare",
        "digits",
        *TINY,
        "--arms",
        "constant-default,schedule-free-default",
        "--out",
        str(out_dir),
    )
    first = {r["arm"]: r for r in json.loads((out_dir / "results.json").read_text())["runs"]}
    record = out_dir / "results.json"
    before = record.read_text()
    assert "--rerun" in _bad(tmp_path, capsys, "compare", "--resume", str(out_dir), "--rerun", "cosine,nope")
    assert record.read_text() == before  # nothing dropped on bad input
    stale = json.loads(before)
    stale["runs"][[r["arm"] for r in stale["runs"]].index("schedule-free-default")]["test_metric"] = -1.0
    record.write_text(json.dumps(stale))
    code, _, _ = _run(capsys, "compare", "--resume", str(out_dir), "--rerun", "schedule-free-default")
    runs = {r["arm"]: r for r in json.loads(record.read_text())["runs"]}
    assert code == 0 and set(runs) == {"constant-default", "schedule-free-default"}
    assert runs["constant-default"] == first["constant-default"]  # kept, not trained again
    again, earlier = (
        runs["schedule-free-default"]["test_metric"],
        first["schedule-free-default"]["test_metric"],
    )
    assert again == pytest.approx(earlier, abs=0.02)  # trained again (the stale -1 is gone)


def test_report_with_baselines_joins_the_other_folders_runs(tmp_path, capsys):
    product, other = tmp_path / "p", tmp_path / "o"
    assert _run(capsys, "compare", "digits", *TINY, "--arms", "onecycle", "--out", str(product))[0] == 0
    assert _run(capsys, "compare", "digits", *TINY, "--arms", "constant-default", "--out", str(other))[0] == 0
    code, _, _ = _run(capsys, "report", str(product), "--baselines", str(other))
    results = json.loads((product / "results.json").read_text())
    assert code == 0 and results["baselines"] == [os.path.relpath(other, product)]
    report = (product / "report.md").read_text()
    assert "| constant-default |" in report and "| onecycle |" in report
    assert [r["arm"] for r in results["runs"]] == ["onecycle"]  # the baseline's runs stay in their folder


def test_batch_size_sets_the_steps_and_overwrite_replaces_the_run(tmp_path, capsys):
    out_dir = tmp_path / "b"
    argv = ["compare", "digits", *TINY, "--arms", "constant-default", "--out", str(out_dir)]
    assert _run(capsys, *argv, "--batch-size", "48")[0] == 0
    results = json.loads((out_dir / "results.json").read_text())
    (run,) = results["runs"]
    assert run["steps_per_epoch"] == -(-results["dataset"]["train"] // 48)  # the last batch partial
    code, _, err = _run(capsys, *argv, "--batch-size", "16")
    assert code == 2 and "--overwrite" in err  # a finished run folder is not written over by default
    assert _run(capsys, *argv, "--batch-size", "16", "--overwrite")[0] == 0
    (run,) = json.loads((out_dir / "results.json").read_text())["runs"]
    assert run["steps_per_epoch"] == -(-results["dataset"]["train"] // 16)


@pytest.mark.backend_independent
@pytest.mark.parametrize("how", ["script", "-m"])
@pytest.mark.parametrize("args", [["--help"], ["compare", "--help"], ["compare", "--epochs", "0"]])
def test_help_and_argument_errors_load_no_keras(tmp_path, how, args):
    import shutil

    script = shutil.which("onecycle")
    if how == "script" and script is None:
        pytest.skip("the `onecycle` script is not installed")
    (tmp_path / "keras").mkdir()  # a Keras that fails on import, ahead of the real one
    (tmp_path / "keras" / "__init__.py").write_text("raise ImportError('keras was imported')\n")
    path = os.pathsep.join(p for p in [str(tmp_path), os.environ.get("PYTHONPATH")] if p)
    argv = [script] if how == "script" else [sys.executable, "-m", "onecycle"]
    done = subprocess.run(
        [*argv, *args], env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True
    )
    assert "keras was imported" not in done.stderr + done.stdout
    assert done.returncode == (2 if "0" in args else 0), done.stderr
    assert "Traceback" not in done.stderr
