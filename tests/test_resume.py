"""Killed runs resume from their backups; the schedule never restarts and ends at its final value."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import onecycle
from onecycle.experiments.cli import main

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _train_command(out_dir, epochs):
    return [
        sys.executable,
        "-m",
        "onecycle",
        "train",
        "digits",
        "--schedule",
        "onecycle",
        "--max-lr",
        "0.05",
        "--epochs",
        str(epochs),
        "--seeds",
        "1",
        "--verbose",
        "0",
        "--out",
        str(out_dir),
    ]


@pytest.mark.slow
def test_sigkilled_train_resumes_from_backup(tmp_path, capsys):
    out_dir = tmp_path / "run"
    proc = subprocess.Popen(
        _train_command(out_dir, 25), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    epochs_file = out_dir / "backups" / "onecycle-seed0" / "epochs.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            if len(json.loads(epochs_file.read_text())) >= 3:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_after = len(json.loads(epochs_file.read_text()))

    assert main(["train", "--resume", str(out_dir)]) == 0
    results = json.loads((out_dir / "results.json").read_text())
    (run,) = results["runs"]
    assert [e["epoch"] for e in run["epochs"]] == list(range(1, 26))
    walls = [e["wall_time"] for e in run["epochs"]]
    assert walls == sorted(walls)
    schedule = onecycle.OneCycle(0.05, 25 * run["steps_per_epoch"])
    expected = schedule.evaluate(np.arange(1, 26) * run["steps_per_epoch"])
    np.testing.assert_allclose([e["learning_rate"] for e in run["epochs"]], expected, rtol=1e-3)
    assert killed_after >= 3 and not (out_dir / "backups").exists()
    assert {row["arm"] for row in results["summary"]} == {"onecycle"}


def _run_with_seed1_unfinished(out_dir, epochs):
    """A finished two-seed run whose results.json is rolled back to before seed 1; returns seed 1's
    record and its (empty) backup folder."""
    assert (
        main(
            [
                "train",
                "digits",
                "--schedule",
                "onecycle",
                "--max-lr",
                "0.05",
                "--epochs",
                str(epochs),
                "--seeds",
                "2",
                "--subset",
                "100",
                "--verbose",
                "0",
                "--out",
                str(out_dir),
            ]
        )
        == 0
    )
    results = json.loads((out_dir / "results.json").read_text())
    finished = results["runs"].pop()
    (out_dir / "results.json").write_text(json.dumps(results))
    backup = out_dir / "backups" / "onecycle-seed1"
    backup.mkdir(parents=True)
    return finished, backup


def test_corrupt_backup_is_reported(tmp_path, capsys):
    out_dir = tmp_path / "run"
    _, backup = _run_with_seed1_unfinished(out_dir, epochs=1)
    (backup / "latest.weights.h5").write_bytes(b"not an h5 file")
    capsys.readouterr()
    assert main(["train", "--resume", str(out_dir)]) == 2
    err = capsys.readouterr().err
    assert "cannot be loaded" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_backup_of_another_optimizer_is_reported_not_half_loaded(tmp_path, capsys):
    """Keras loads such a file with a warning and skips the optimizer: the step count would restart at 0."""
    out_dir = tmp_path / "run"
    _, backup = _run_with_seed1_unfinished(out_dir, epochs=1)
    from onecycle.experiments import datasets, models, runner

    dataset = datasets.load("digits", subset=100)
    model = models.for_dataset(dataset)
    runner.compile_for(model, dataset, onecycle.optimizers.SGD(0.01))  # no momentum slots
    model.optimizer.build(model.trainable_variables)
    model.save_weights(backup / "latest.weights.h5")
    capsys.readouterr()
    assert main(["train", "--resume", str(out_dir)]) == 2
    err = capsys.readouterr().err
    assert "cannot be loaded" in err and "Traceback" not in err


def test_backup_cut_while_written_falls_back_to_the_previous_copy(tmp_path, capsys):
    """SIGKILL during the write of `latest.weights.h5` leaves a damaged file and the previous copy."""
    out_dir = tmp_path / "run"
    finished, backup = _run_with_seed1_unfinished(out_dir, epochs=3)
    # a backup of seed 1 after its first epoch, then a damaged newer one
    from onecycle.experiments import datasets, models, runner

    dataset = datasets.load("digits", subset=100)
    model = models.for_dataset(dataset)
    schedule = onecycle.OneCycle(0.05, 3)  # the variables of the run's optimizer, whatever the step count
    runner.compile_for(model, dataset, onecycle.optimizers.SGD(schedule, momentum=schedule.momentum()))
    model.optimizer.build(model.trainable_variables)
    model.save_weights(tmp_path / "epoch1.weights.h5")
    (tmp_path / "epoch1.weights.h5").rename(backup / "latest.weights.h5.bkp")
    (backup / "training_metadata.json.bkp").write_text(json.dumps({"epoch": 1, "batch": -1}))
    (backup / "latest.weights.h5").write_bytes(b"cut short")
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": -1}))
    (backup / "epochs.json").write_text(
        json.dumps([{**e, "wall_time": 1.0 + i} for i, e in enumerate(finished["epochs"][:2])])
    )
    capsys.readouterr()
    assert main(["train", "--resume", str(out_dir)]) == 0
    (run,) = [r for r in json.loads((out_dir / "results.json").read_text())["runs"] if r["seed"] == 1]
    assert [e["epoch"] for e in run["epochs"]] == [1, 2, 3]  # epoch 2 replayed from the previous copy


class _StopAt(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            raise RuntimeError("interrupted")


def test_backup_and_restore_mid_epoch_never_restarts_the_cycle(tmp_path, tiny_classifier, lr_trace):
    """BackupAndRestore replays a partly finished epoch: the optimizer step comes back from the last
    backup, so the replayed batches are counted twice and the run takes more steps than planned. The
    schedule then holds its final value instead of extrapolating or starting a new cycle."""
    schedule = onecycle.OneCycle(0.1, 6 * 6)  # 6 epochs of 6 batches
    model, x, y = tiny_classifier(onecycle.optimizers.SGD(schedule, momentum=schedule.momentum()))
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "b"), save_freq=4)
    with pytest.raises(RuntimeError):
        model.fit(x, y, batch_size=16, epochs=6, verbose=0, callbacks=[backup, lr_trace(), _StopAt(20)])
    model2, _, _ = tiny_classifier(onecycle.optimizers.SGD(schedule, momentum=schedule.momentum()))
    trace = lr_trace()
    model2.fit(x, y, batch_size=16, epochs=6, verbose=0, callbacks=[backup, trace])
    resumed = trace.trace
    steps = int(keras.ops.convert_to_numpy(model2.optimizer.iterations))
    assert resumed[0] < schedule.max_lr and resumed[0] != pytest.approx(
        schedule.start_lr
    )  # not back at the start
    assert resumed[0] == pytest.approx(float(schedule.evaluate(steps - len(resumed))), rel=1e-5)
    assert steps >= 36
    assert resumed[-1] == pytest.approx(float(schedule.evaluate(35 if steps == 36 else 36)), rel=1e-3)
    assert min(resumed) >= schedule.final_lr * (1 - 1e-6)
