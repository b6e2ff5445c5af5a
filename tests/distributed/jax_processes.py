"""One of two JAX processes (CPU) joined by `jax.distributed` under `keras.distribution.DataParallel`;
prints one JSON line. Each process feeds its half of every global batch.

python tests/distributed/jax_processes.py INDEX PORT
"""

import json
import os
import sys

INDEX, PORT = int(sys.argv[1]), sys.argv[2]
os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"

import jax  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=f"localhost:{PORT}", num_processes=2, process_id=INDEX)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import onecycle  # noqa: E402


def main():
    distribution = keras.distribution.DataParallel(devices=jax.devices())
    distribution.auto_shard_dataset = False  # each process feeds its own half, as below
    keras.distribution.set_distribution(distribution)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    x, y = x[INDEX::2], y[INDEX::2]  # this process's half of the data
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(onecycle.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    result = onecycle.find_lr(
        model, x, y, batch_size=32, num_steps=300, start_lr=1e-3, end_lr=1e6, seed=0, verbose=0
    )
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=3, batch_size=32, max_lr=0.1, verbose=0, shuffle=False
    )
    weights = np.concatenate([np.asarray(v.value).ravel() for v in model.trainable_variables])
    print(
        json.dumps(
            {
                "devices": len(jax.devices()),
                "finder_steps": len(result.lrs),
                "diverged": result.diverged,
                "learning_rate": history.history["learning_rate"],
                "momentum": history.history["momentum"],
                "final_lr": history.schedule.final_lr,
                "weights_sum": float(weights.sum()),
                "weights_head": weights[:8].tolist(),
            }
        )
    )


if __name__ == "__main__":
    main()
