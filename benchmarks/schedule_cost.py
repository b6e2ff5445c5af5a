"""What the schedule costs per step: `fit` throughput with a constant rate, with `OneCycle` + cyclical
momentum (evaluated inside the compiled step), and with the per-batch callback of the article's code.

    python benchmarks/schedule_cost.py                 # every backend, model and batch size
    python benchmarks/schedule_cost.py --quick         # a few seconds, to keep it from rotting

Each (backend, model, batch size) runs in its own process (the Keras backend is fixed at import). The
three arms are timed in interleaved rounds of one epoch each; a round's time runs from the end of its
fifth batch to the end of its last, so that the per-`fit` set-up (the data pipeline, the callbacks)
does not drown the per-step cost. The median round is reported; ratios are against the constant rate
measured in the same process. Data is random, with the shapes of
Fashion-MNIST (CNN) and Boston Housing (MLP); speed does not depend on the values.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ARMS = ("constant", "onecycle", "callback")


def _child(backend, model_name, batch_size, samples, rounds):
    import keras
    import numpy as np

    import onecycle
    from onecycle.experiments import models

    class PerBatchCallback(keras.callbacks.Callback):
        """The article's approach: set the rate from Python before every batch."""

        def __init__(self, schedule):
            super().__init__()
            self.schedule, self.step = schedule, 0

        def on_train_batch_begin(self, batch, logs=None):
            self.model.optimizer.learning_rate = float(self.schedule.evaluate(self.step))
            self.step += 1

    class SteadyClock(keras.callbacks.Callback):
        """Seconds from the end of batch `skip` to the end of the last batch of the epoch."""

        skip = 5

        def on_train_batch_end(self, batch, logs=None):
            if batch == self.skip - 1:
                self.start = time.perf_counter()
            self.end, self.batches = time.perf_counter(), batch + 1

    rng = np.random.default_rng(0)
    if model_name == "cnn":
        x, y = rng.normal(size=(samples, 28, 28, 1)).astype("float32"), rng.integers(0, 10, samples)
        build, loss = (lambda: models.cnn((28, 28, 1), 10)), "sparse_categorical_crossentropy"
    else:
        x, y = (
            rng.normal(size=(samples, 13)).astype("float32"),
            rng.normal(size=(samples, 1)).astype("float32"),
        )
        build, loss = (lambda: models.mlp(13)), "mse"
    steps = -(-samples // batch_size)
    schedule = onecycle.OneCycle(0.01, steps * (rounds + 1))
    setups = {}
    for arm in ARMS:
        keras.utils.set_random_seed(0)
        model = build()
        if arm == "onecycle":
            optimizer = onecycle.optimizers.SGD(schedule, momentum=schedule.momentum())
        else:
            optimizer = onecycle.optimizers.SGD(0.001, momentum=0.9)
        model.compile(optimizer, loss)
        callbacks = [PerBatchCallback(schedule)] if arm == "callback" else []
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=callbacks)  # compile, warm up
        setups[arm] = (model, callbacks)
    times = {arm: [] for arm in ARMS}
    clock = SteadyClock()
    for _ in range(rounds):
        for arm, (model, callbacks) in setups.items():
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=callbacks + [clock])
            times[arm].append((clock.batches - clock.skip) * batch_size / (clock.end - clock.start))
    rates = {arm: sorted(r)[len(r) // 2] for arm, r in times.items()}
    print(
        json.dumps(
            {"backend": backend, "model": model_name, "batch_size": batch_size, "samples_per_s": rates}
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round: checks that it runs")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, model_name, batch_size, samples = args.child
        return _child(backend, model_name, int(batch_size), int(samples), 1 if args.quick else args.rounds)
    cases = [("cnn", 32, 6400), ("cnn", 256, 12800), ("mlp", 32, 12800), ("mlp", 256, 51200)]
    if args.quick:
        cases = [("mlp", 32, 320)]
    print(
        "| backend | model | batch | constant (samples/s) | OneCycle + momentum | ratio | per-batch callback | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for backend in args.backends.split(","):
        for model_name, batch_size, samples in cases:
            env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
            command = [
                sys.executable,
                __file__,
                "--child",
                backend,
                model_name,
                str(batch_size),
                str(samples),
                "--rounds",
                str(args.rounds),
            ] + (["--quick"] if args.quick else [])
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            rates = json.loads(out.strip().splitlines()[-1])["samples_per_s"]
            c, o, b = rates["constant"], rates["onecycle"], rates["callback"]
            print(
                f"| {backend} | {model_name} | {batch_size} | {c:,.0f} | {o:,.0f} | {o / c:.3f} | {b:,.0f} | {b / c:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
