"""Killed runs resume: finished trainings are kept, an unfinished one trains again from its start with
the same result; a user's own BackupAndRestore never restarts the schedule."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
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


def _final_figures(out_dir):
    results = json.loads((out_dir / "results.json").read_text())
    return sorted(
        (r["seed"], [e["val_metric"] for e in r["epochs"]], r["test_metric"], r.get("peak_lr"))
        for r in results["runs"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow"])
def test_sigkilled_train_restarts_the_training_and_matches_an_uninterrupted_run(tmp_path, backend):
    """SIGKILL in the middle of a training: `--resume` trains it again from its own start, and the
    results are those of a run that was never killed (each run a process of its own, as a user's
    would be). On TensorFlow; the interruption below runs on every backend."""
    env = {**ENV, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "1"}
    whole = tmp_path / "whole"
    subprocess.run(
        _train_command(whole, 6), env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    out_dir = tmp_path / "run"
    proc = subprocess.Popen(
        _train_command(out_dir, 6), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    epochs_file = out_dir / "backups" / "onecycle-seed0" / "epochs.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            if len(json.loads(epochs_file.read_text())) >= 2:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    results = out_dir / "results.json"
    assert not results.exists() or not json.loads(results.read_text())["runs"]
    resume = [*_train_command(out_dir, 6)[:3], "train", "--resume", str(out_dir)]
    subprocess.run(resume, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _final_figures(out_dir) == _final_figures(whole)
    assert not (out_dir / "backups").exists()


def test_a_training_interrupted_midway_restarts_and_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    """On every backend: seed 1's training stops after its first epoch; `--resume` keeps seed 0,
    trains seed 1 again from its start (range test, guard and all), and every figure is the
    uninterrupted run's."""
    from onecycle.experiments import runner

    argv = [
        "train",
        "digits",
        "--epochs",
        "2",
        "--seeds",
        "2",
        "--subset",
        "120",
        "--num-steps",
        "20",
        "--verbose",
        "0",
    ]
    assert main([*argv, "--out", str(tmp_path / "whole")]) == 0
    original, calls = runner.EpochLog.on_epoch_end, []

    def interrupted(self, epoch, logs=None):
        original(self, epoch, logs)
        calls.append(epoch)
        if len(calls) == 3:  # seed 1, after its first epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(runner.EpochLog, "on_epoch_end", interrupted)
    assert main([*argv, "--out", str(tmp_path / "run")]) != 0
    assert len(json.loads((tmp_path / "run" / "results.json").read_text())["runs"]) == 1
    monkeypatch.setattr(runner.EpochLog, "on_epoch_end", original)
    assert main(["train", "--resume", str(tmp_path / "run")]) == 0
    assert _final_figures(tmp_path / "run") == _final_figures(tmp_path / "whole")


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
