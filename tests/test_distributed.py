"""The schedule, cyclical momentum, find_lr and fit_one_cycle under Keras' own data parallelism,
on two virtual CPU devices, each in a fresh process (devices are fixed when a backend starts)."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed", "mirrored.py")


def _check(record):
    assert record["replicas"] == 2
    assert record["diverged"] and record["finder_steps"] < 300 and record["restored"]
    assert record["learning_rate"][-1] == pytest.approx(record["final_lr"], rel=1e-3)
    assert record["momentum"][-1] == pytest.approx(0.95)
    assert record["iterations"] == 4 + 12  # one epoch before, then 3 epochs of 4 global batches


@pytest.mark.parametrize("mode", ["tensorflow", "jax"])
def test_two_devices(mode):
    if mode == "jax":
        pytest.importorskip("jax")
    out = subprocess.run([sys.executable, SCRIPT, mode], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    _check(json.loads(out.stdout.strip().splitlines()[-1]))
