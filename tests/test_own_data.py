"""`onecycle compare --data FILE` and `onecycle.experiments.compare` on a user's own data and model:
npz and csv, classification and regression, with and without validation and test splits, bad input."""

import json
import os
import re

import keras
import numpy as np
import pytest

from onecycle.experiments import compare, own_data
from onecycle.experiments.cli import main

FAST = ["--epochs", "1", "--seeds", "2", "--num-steps", "10", "--lrs", "none", "--verbose", "0"]
MODEL_FILE = """
import keras

def small(input_shape, num_outputs):
    inputs = keras.Input(input_shape)
    h = keras.layers.Dense(8, activation="relu")(inputs)
    if num_outputs == 1:
        return keras.Model(inputs, keras.layers.Dense(1)(h))
    return keras.Model(inputs, keras.layers.Dense(num_outputs, activation="softmax")(h))

def not_a_model(input_shape, num_outputs):
    return 3
"""


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "mymodel.py"
    path.write_text(MODEL_FILE)
    return str(path)


def _table(n=120, seed=0, classes=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5) if classes else 3.0 * x[:, 0] - x[:, 2] + 50.0
    return x, y


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_npz_classification_with_every_split(tmp_path, capsys, model_file):
    x, y = _table(classes=3)
    data = tmp_path / "mine.npz"
    np.savez(
        data, x_train=x[:80], y_train=y[:80], x_val=x[80:100], y_val=y[80:100], x_test=x[100:], y_test=y[100:]
    )
    out_dir = tmp_path / "run"
    code, out, err = _run(
        capsys,
        "compare",
        "--data",
        str(data),
        "--model",
        f"{model_file}:small",
        "--arms",
        "constant-default,schedule-free-default,onecycle",
        *FAST,
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 6  # one line per training: 3 arms x 2 seeds, nothing else per epoch
    results = json.loads((out_dir / "results.json").read_text())
    assert (
        results["dataset"]["train"] == 80
        and results["dataset"]["val"] == 20
        and results["dataset"]["test"] == 20
    )
    assert results["dataset"]["metric"] == "accuracy"
    assert "Dense(8,)" in results["model"]
    for run in results["runs"]:
        assert run["test_metric"] is not None and len(run["epochs"]) == 1
    onecycle_runs = [r for r in results["runs"] if r["arm"] == "onecycle"]
    assert all(r["peak_lr"] > 0 for r in onecycle_runs)  # fit_one_cycle's own range test chose it
    report = (out_dir / "report.md").read_text()
    assert report.splitlines()[2] == "## Answer" and "Best arm on validation" in report
    assert "`onecycle` against `constant-default`" in report


def test_csv_regression_with_a_categorical_column_and_no_test(tmp_path, capsys, model_file):
    x, y = _table(n=90)
    rows = ["a,b,colour,c,d,price"] + [
        f"{r[0]},{r[1]},{'red' if r[2] > 0 else 'blue'},{r[2]},{r[3]},{t}" for r, t in zip(x, y)
    ]
    data = tmp_path / "houses.csv"
    data.write_text("\n".join(rows) + "\n")
    out_dir = tmp_path / "run"
    code, out, err = _run(
        capsys,
        "compare",
        "--data",
        str(data),
        "--target",
        "price",
        "--model",
        f"{model_file}:small",
        "--arms",
        "constant-default,onecycle",
        *FAST,
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert results["dataset"]["metric"] == "rmse" and results["dataset"]["test"] == 0
    assert results["dataset"]["val"] == 18 and results["dataset"]["train"] == 72
    assert all(r["test_metric"] is None for r in results["runs"])
    assert "No test split was given" in (out_dir / "report.md").read_text()
    loaded = own_data.load_file(str(data), "price")
    assert loaded.x_train.shape[1] == 6  # 4 numeric columns + 2 one-hot colours
    np.testing.assert_allclose(loaded.x_train.mean(axis=0), 0.0, atol=1e-6)


def test_task_inference_and_override(tmp_path):
    x, y = _table(n=60, classes=3)
    path = tmp_path / "t.npz"
    np.savez(path, x_train=x, y_train=y)
    assert own_data.load_file(str(path)).task == "classification"
    assert own_data.load_file(str(path), task="regression").task == "regression"
    np.savez(path, x_train=x, y_train=x[:, 0] * 10)
    assert own_data.load_file(str(path)).task == "regression"
    text = tmp_path / "t.csv"
    text.write_text("f,label\n" + "\n".join(f"{v},{'yes' if v > 0 else 'no'}" for v in x[:, 0]))
    data = own_data.load_file(str(text), "label")
    assert data.task == "classification" and data.num_classes == 2
    assert set(np.unique(data.y_train)) <= {0, 1}


def test_python_api_returns_the_summary_and_writes_nothing_without_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _table(n=100, classes=3)

    def small(input_shape, num_outputs):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Dense(num_outputs, activation="softmax")(inputs))

    result = compare(small, x, y, epochs=1, seeds=2, arms=["constant-default", "onecycle"], lrs="none")
    assert {row["base_arm"] for row in result.summary} == {"constant-default", "onecycle"}
    assert all(row["seeds"] == 2 for row in result.summary)
    assert result.report is None and os.listdir(tmp_path) == []
    verdicts = [c for c in result.selection["comparisons"] if c["value"] == "best_val"]
    assert verdicts and verdicts[0]["against"] == "constant-default"
    out = compare(
        small,
        x,
        y,
        epochs=1,
        seeds=1,
        arms=["constant-default"],
        lrs="none",
        out=str(tmp_path / "r"),
        validation_data=(x[:20], y[:20]),
        test_data=(x[20:40], y[20:40]),
    )
    assert os.path.isfile(out.report) and out.results["dataset"]["val"] == 20


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "missing.npz"], "--data: must be an existing .npz or .csv file"),
        (["--data", "{csv}"], "--target: a --data .csv needs the name of its target column"),
        (["--data", "{csv}", "--target", "nope"], "--target: 'nope' is not a column"),
        (["--data", "{npz}", "--target", "y"], "--target: only with a --data .csv file"),
        (["--data", "{npz}", "--task", "ranking"], "--task: invalid choice 'ranking'"),
        (["--data", "{bad_npz}"], "holds no y_train"),
        (["--data", "{npz}", "--model", "{model}:missing"], "has no function 'missing'"),
        (["--data", "{npz}", "--model", "{model}:not_a_model"], "must return a keras.Model"),
        (["--data", "{npz}", "--model", "nosuchfile.py:f"], "--model: 'nosuchfile.py' is not a file"),
        (["--data", "{npz}", "--model", "resnet"], "--model: must be one of mlp, cnn, resnet9"),
        (["--data", "{ragged_csv}", "--target", "y"], "line 3 has 1 fields; the header has 2"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, model_file, argv, message):
    x, y = _table(n=30)
    np.savez(tmp_path / "ok.npz", x_train=x, y_train=y)
    np.savez(tmp_path / "bad.npz", x_train=x)
    (tmp_path / "ok.csv").write_text("a,y\n1,2\n3,4\n5,6\n")
    (tmp_path / "ragged.csv").write_text("a,y\n1,2\n3\n5,6\n")
    names = {
        "csv": tmp_path / "ok.csv",
        "npz": tmp_path / "ok.npz",
        "bad_npz": tmp_path / "bad.npz",
        "ragged_csv": tmp_path / "ragged.csv",
        "model": model_file.removesuffix(".py") + ".py",
    }
    argv = [a.format(**{k: str(v) for k, v in names.items()}) for a in argv]
    out_dir = tmp_path / "run"
    code, out, err = _run(capsys, "compare", *argv, *FAST, "--out", str(out_dir))
    assert code == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out_dir.exists()  # not even an empty folder


def _csv(path, n, seed=0):
    x, y = _table(n=n, seed=seed, classes=3)
    rows = ["a,b,c,d,label", *(",".join(f"{v:.6f}" for v in row) + f",{int(t)}" for row, t in zip(x, y))]
    path.write_text("\n".join(rows) + "\n")


def test_resume_refuses_a_data_file_that_changed(tmp_path, capsys):
    data, out_dir = tmp_path / "mine.csv", tmp_path / "run"
    _csv(data, 120)
    argv = ["compare", "--data", str(data), "--target", "label", "--arms", "constant-default", *FAST]
    assert _run(capsys, *argv, "--out", str(out_dir))[0] == 0
    before = (out_dir / "results.json").read_text()
    _csv(data, 90)  # same columns, fewer rows
    code, _, err = _run(capsys, "compare", "--resume", str(out_dir))
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "the data" in err and str(data) in err and "differs" in err
    assert (out_dir / "results.json").read_text() == before  # nothing written


def test_resume_refuses_options_that_differ_from_the_stored_run(tmp_path, capsys):
    data, out_dir = tmp_path / "mine.csv", tmp_path / "run"
    _csv(data, 120)
    argv = ["compare", "--data", str(data), "--target", "label", "--arms", "constant-default", *FAST]
    assert _run(capsys, *argv, "--out", str(out_dir))[0] == 0
    code, _, err = _run(capsys, "compare", "--resume", str(out_dir), "--epochs", "5")
    assert code == 2 and "--epochs" in err and "Received: --epochs 5" in err and "Traceback" not in err
    code, _, err = _run(capsys, "compare", "--resume", str(out_dir), "--seeds", "1")
    assert code == 2 and "may add seeds" in err
    code, _, err = _run(capsys, "compare", "--resume", str(out_dir), "--epochs", "1", "--verbose", "0")
    assert code == 0  # the stored value again, and the progress shown: accepted


def _write(path, text):
    path.write_text(text)
    return str(path)


def _rows(n, make):
    return "\n".join(make(i) for i in range(n)) + "\n"


CSV_CASES = {
    "missing": (
        "a,b,label\n" + _rows(30, lambda i: f"{i},{'NA' if i == 7 else i % 5},{i % 2}"),
        "column 'b' of .* has missing values .* on line\\(s\\) 9;",
    ),
    "question_mark": (
        "a,b,label\n" + _rows(30, lambda i: f"{i},{'?' if i in (3, 4) else i % 5},{i % 2}"),
        "column 'b' .* missing values .* line\\(s\\) 5, 6;",
    ),
    "stray_text": (
        "a,b,label\n" + _rows(30, lambda i: f"{i},{'oops' if i == 2 else i % 5},{i % 2}"),
        "column 'b' of .* is numeric but line\\(s\\) 4 hold 'oops'",
    ),
    "thousands": (
        "a,b,label\n" + _rows(30, lambda i: f'{i},"{i + 1},234",{i % 2}'),
        "column 'b' of .* thousands separators \\(e.g. '1,234'",
    ),
    "ids": (
        "id,b,label\n" + _rows(60, lambda i: f"user{i:03d},{i % 5},{i % 2}"),
        "column 'id' of .* is text with 60 distinct values",
    ),
    "dates": (
        "day,b,label\n" + _rows(30, lambda i: f"2024-0{1 + i % 3}-1{i % 2},{i % 5},{i % 2}"),
        "column 'day' of .* holds dates \\(e.g. '2024-01-10'\\)",
    ),
    "duplicate_names": (
        "a,a,label\n" + _rows(30, lambda i: f"{i},{i},{i % 2}"),
        "names more than one column 'a'",
    ),
    "one_class": ("a,b,label\n" + _rows(30, lambda i: f"{i},{i % 3},1"), "at least 2 classes"),
    "three_rows": ("a,label\n1,0\n2,1\n3,0\n", "has 3 data rows; at least 10 are needed"),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_a_table_the_reader_refuses_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, case):
    text, message = CSV_CASES[case]
    data = _write(tmp_path / "t.csv", text)
    out_dir = tmp_path / "run"
    code, _, err = _run(capsys, "compare", "--data", data, "--target", "label", *FAST, "--out", str(out_dir))
    assert code == 2, err
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out_dir.exists()


def test_a_byte_order_mark_and_a_rare_class_are_read_as_users_expect(tmp_path):
    rows = _rows(40, lambda i: f"{i % 7},{'x' if i % 2 else 'y'},{2 if i in (5, 9) else i % 2}")
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefflabel_free,kind,label\n".encode() + rows.encode())
    data = own_data.load_file(str(path), "label")
    assert data.task == "classification" and data.num_classes == 3
    assert set(data.y_val.tolist()) == {0, 1, 2}  # stratified: the class of 2 rows is in both splits
    assert set(data.y_train.tolist()) == {0, 1, 2}
    assert "'kind' one-hot (2 categories)" in data.source


def test_a_column_with_a_few_extreme_cells_is_named_in_a_warning_and_the_report(tmp_path):
    rows = _rows(40, lambda i: f"{1e30 if i == 3 else -1e30 if i == 11 else i % 9},{i % 2}")
    path = _write(tmp_path / "heavy.csv", "a,label\n" + rows)
    with pytest.warns(UserWarning, match=r"column\(s\) 0 of x have a few values over 1000 interquartile"):
        data = own_data.load_file(path, "label")
    assert "warning: column(s) 0" in data.source


BAD_MODELS = """
import keras

def one_output(input_shape, num_outputs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))

def five_classes(input_shape, num_outputs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(inputs))

def fixed_input(input_shape, num_outputs):
    inputs = keras.Input((7,))
    return keras.Model(inputs, keras.layers.Dense(num_outputs, activation="softmax")(inputs))

def logits(input_shape, num_outputs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(num_outputs)(inputs))
"""


@pytest.mark.parametrize(
    "function, message",
    [
        ("one_output", r"returns outputs of shape \(1,\); the task needs \(3,\)"),
        ("five_classes", r"returns outputs of shape \(5,\); the task needs \(3,\)"),
        ("fixed_input", r"fails on the data's inputs of shape \(4,\)"),
    ],
)
def test_a_model_that_does_not_fit_the_task_is_one_line_exit_2_and_nothing_written(
    tmp_path, capsys, function, message
):
    (tmp_path / "bad.py").write_text(BAD_MODELS)
    data = tmp_path / "t.csv"
    _csv(data, 60)
    out_dir = tmp_path / "run"
    code, _, err = _run(
        capsys,
        "compare",
        "--data",
        str(data),
        "--target",
        "label",
        "--model",
        f"{tmp_path / 'bad.py'}:{function}",
        *FAST,
        "--out",
        str(out_dir),
    )
    assert code == 2 and re.search(message, err), err
    assert len(err.strip().splitlines()) == 1 and not out_dir.exists()


def test_a_classifier_ending_in_logits_trains_with_a_loss_from_logits(tmp_path):
    (tmp_path / "m.py").write_text(BAD_MODELS)
    from onecycle.experiments import models, runner

    data = tmp_path / "t.csv"
    _csv(data, 60)
    dataset = own_data.load_file(str(data), "label")
    model = models.for_dataset(dataset, f"{tmp_path / 'm.py'}:logits")
    runner.compile_for(model, dataset, keras.optimizers.SGD(0.1))
    assert model.loss.get_config()["from_logits"] is True
    model = models.for_dataset(dataset, "mlp")
    runner.compile_for(model, dataset, keras.optimizers.SGD(0.1))
    assert model.loss.get_config()["from_logits"] is False


def test_compare_leaves_the_users_matplotlib_backend_as_it_was(tmp_path):
    import importlib

    import matplotlib

    import onecycle.experiments.report

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend that is not the harness's Agg
    importlib.reload(onecycle.experiments.report)  # what importing it does, again

    x, y = _table(n=60, classes=3)

    def small(input_shape, num_outputs):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Dense(num_outputs, activation="softmax")(inputs))

    compare(small, x, y, epochs=1, seeds=1, arms=["constant-default"], lrs="none", out=str(tmp_path / "r"))
    after = matplotlib.get_backend()
    matplotlib.use(before)
    assert after == "svg"
    assert (tmp_path / "r" / "report.md").exists() and (tmp_path / "r" / "val_metric.png").exists()


def _softmax_model(input_shape, num_outputs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(num_outputs, activation="softmax")(inputs))


def test_the_python_api_names_its_parameters_and_takes_what_it_promises(tmp_path):
    x, y = _table(n=60, classes=3)
    with pytest.raises(
        ValueError, match=r"Argument `validation_data` must be a pair \(x, y\). Received: a tuple of 1"
    ):
        compare(_softmax_model, x, y, epochs=1, validation_data=(x,))
    with pytest.raises(ValueError, match=r"`epochs`: must be a positive integer") as caught:
        compare(_softmax_model, x, y, epochs=0)
    assert "--" not in str(caught.value)
    result = compare(_softmax_model, x, y, epochs=1, seeds=1, arms="constant-default, onecycle", lrs="none")
    assert {row["base_arm"] for row in result.summary} == {"constant-default", "onecycle"}


def _mlp1(input_shape, num_outputs):
    inputs = keras.Input(input_shape)
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(num_outputs)(hidden))


def test_a_regression_target_of_any_scale_trains_the_same_and_beats_the_mean(tmp_path):
    """The harness trains on the standardized target and reports in its units: a price-like target
    (mean 3e5, 400 rows, 20 epochs) and the same one times 1e7 give the same RMSE relative to their
    scale, and every arm beats predicting the training mean."""
    from onecycle.experiments import models

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    shape = x[:, 0] * 0.8 + np.tanh(x[:, 1]) + 0.3 * rng.normal(size=400)
    relative = []
    for scale in (2.4e5, 2.4e12):
        y = 1.25 * scale + scale * shape
        result = compare(
            models.REGISTRY["mlp"],
            x[:320],
            y[:320],
            test_data=(x[320:], y[320:]),
            epochs=20,
            seeds=1,
            arms="constant-default,onecycle",
            lrs="none",
        )
        assert "target standardized for training" in result.results["dataset"]["source"]
        mean_predictor = float(np.sqrt(np.mean((y[320:] - y[:320].mean()) ** 2)))
        rows = {row["base_arm"]: row["test_mean"] for row in result.summary}
        assert all(value < 0.8 * mean_predictor for value in rows.values()), (rows, mean_predictor)
        relative.append({arm: value / scale for arm, value in rows.items()})
    for arm in relative[0]:
        assert relative[1][arm] == pytest.approx(relative[0][arm], rel=1e-2)
    for scale, kept in (
        (1e-3, False),
        (80.0, True),
        (400.0, False),
    ):  # inside 1e-2 to 1e2 the raw target is kept
        data = own_data.from_arrays("t", x, 1.25 * scale + scale * shape, task="regression")
        assert (data.target_scale is None) is kept and ("target raw" in data.source) is kept
