"""Run-folder files, written atomically (temporary file, then rename) so nothing is ever half-written."""

from __future__ import annotations

import json
import math
import os
import platform
import sys

import keras
import numpy as np

from onecycle import files
from onecycle.experiments.errors import CorruptRunError


def _clean(value):
    """NaN and inf become null: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(path: str, record: object) -> None:
    files.write_json_atomically(path, _clean(record), indent=1)


def read_json(path: str) -> object:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise CorruptRunError(f"{path} cannot be read ({type(error).__name__}: {error})") from None


def save_figure(figure, path):
    files.write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=110, bbox_inches="tight"), ".tmp.png")


def describe_value(value: object) -> object:
    """A float, or a Keras schedule as its serialized config."""
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return keras.saving.serialize_keras_object(value)
    return float(value)


def restore_value(record: object) -> object:
    if isinstance(record, dict):
        return keras.saving.deserialize_keras_object(record)
    return record


def write_text(path: str, text: str) -> None:
    def _dump(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    files.write_atomically(path, _dump)


def _device():
    """The device the backend computes on, in the backend's own words."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.platform}: {getattr(device, 'device_kind', device)}"
    if backend == "torch":
        import torch

        return f"cuda: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return f"gpu: {gpus[0].name}" if gpus else "cpu"
    return "unknown"


def _processor():
    """The CPU's model name (Linux reports it in /proc/cpuinfo; `platform.processor()` is often empty)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def environment() -> dict[str, object]:
    """The machine and library versions a result was measured with, stored beside it."""
    import onecycle

    found = {
        "machine": f"{platform.system()} {platform.machine()}",
        "processor": _processor(),
        "cpu_count": os.cpu_count(),
        "device": _device(),
        "python": platform.python_version(),
        "onecycle": onecycle.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": np.__version__,
    }
    for module in ("tensorflow", "jax", "torch"):
        if module in sys.modules:
            found[module] = sys.modules[module].__version__
    return found
