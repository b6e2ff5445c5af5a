"""Range test and fit_one_cycle under a two-replica Keras distribution; prints one JSON line.

python tests/distributed/mirrored.py tensorflow      # MirroredStrategy, two logical CPUs
python tests/distributed/mirrored.py readme          # the README's way: compiled in the scope, nothing run yet
python tests/distributed/mirrored.py jax             # keras.distribution.DataParallel, two host devices
python tests/distributed/mirrored.py multiworker INDEX PORT0,PORT1   # one of two MultiWorkerMirroredStrategy workers
"""

import json
import os
import sys

MODE = sys.argv[1]
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "jax" if MODE == "jax" else "tensorflow"
if MODE == "jax":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import keras  # noqa: E402
import numpy as np  # noqa: E402

import onecycle  # noqa: E402


def _strategy_scope():
    if MODE == "jax":
        import jax

        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
        return None, len(jax.devices())
    import tensorflow as tf

    if MODE == "multiworker":
        index, ports = int(sys.argv[2]), sys.argv[3].split(",")
        os.environ["TF_CONFIG"] = json.dumps(
            {
                "cluster": {"worker": [f"localhost:{p}" for p in ports]},
                "task": {"type": "worker", "index": index},
            }
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return strategy, strategy.num_replicas_in_sync
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    return strategy, strategy.num_replicas_in_sync


def _numpy(variable):
    value = variable.value
    return np.array(value.read_value() if hasattr(value, "read_value") else value)


def main():
    strategy, replicas = _strategy_scope()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    scope = strategy.scope() if strategy else _Null()
    with scope:
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(onecycle.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    if (
        MODE != "readme"
    ):  # the README's way calls find_lr first, outside the scope, on unbuilt optimizer slots
        model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)  # global batch 64
    before = [_numpy(v) for v in model.variables + model.optimizer.variables]
    result = onecycle.find_lr(
        model, x, y, batch_size=64, num_steps=300, start_lr=1e-3, end_lr=1e6, seed=0, verbose=0
    )
    restored = all(
        np.array_equal(a, _numpy(v)) for a, v in zip(before, model.variables + model.optimizer.variables)
    )
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=3, batch_size=64, max_lr=0.1, verbose=0, shuffle=False
    )
    print(
        json.dumps(
            {
                "replicas": replicas,
                "finder_steps": len(result.lrs),
                "diverged": result.diverged,
                "restored": restored,
                "learning_rate": history.history["learning_rate"],
                "momentum": history.history["momentum"],
                "final_lr": history.schedule.final_lr,
                "iterations": int(np.asarray(_numpy(model.optimizer.iterations))),
            }
        )
    )


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
