"""Every benchmark's `--quick` run in one process: checks that they run (no timing is asserted).

    python benchmarks/quick.py

Two processes, each running every other benchmark (`--shard 0` here, `--shard 1` in a child it
starts): on two cores they take about two thirds of the time of one. Within a process, one start of
Keras and TensorFlow serves every script. A benchmark that fails stops its process with its name,
and the run exits non-zero.
"""

import contextlib
import glob
import importlib
import io
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CIFAR10 = os.path.join(HERE, "..", "..", "shared", "data", "cifar10", "cifar10_jpeg_q75.npz")

RUNS = [
    ("schedule_cost", ["--quick", "--backends", "tensorflow"]),  # one child process: it checks that it runs
    ("finder_quality", ["digits", "--quick"]),
    ("batch_size", ["digits", "--quick"]),
    ("time_to_accuracy", ["--quick"]),
    ("transfer", ["--quick"]),
    ("wd_quality", ["digits", "--quick"]),
    ("batch_speed", ["--quick"]),
    ("harness_cost", ["digits", "--quick"]),
    ("wd_cost", ["digits", "--quick"]),
    ("recipe", ["digits", "--quick", "--variants", "defaults,guard,cosine", "--schedule-free"]),
    ("recipe", ["digits", "--quick", "--variants", "sgd,adamw-linear0", "--suggestion", "edge"]),
    ("suggestion_spread", ["digits", "--quick", "--optimizer", "adamw"]),
    ("cli_speed", ["--quick"]),
    ("range_test_cost", [os.path.join(HERE, "..", "docs", "runs", "digits-adam-edge"), "--quick"]),
]
if os.path.exists(CIFAR10):  # the shared data beside the checkout
    RUNS.append(("gpu_cifar10", ["--quick", "--data-dir", os.path.dirname(os.path.dirname(CIFAR10))]))
    RUNS.append(("resnet9_backends", ["--quick", "--data-dir", os.path.dirname(os.path.dirname(CIFAR10))]))
    GUARD_RUNS = sorted(glob.glob(os.path.join(HERE, "..", "docs", "benchmarks", "guard2_*.json")))
    RUNS.append(("guard_size_rule", [*GUARD_RUNS, "--data-dir", os.path.dirname(os.path.dirname(CIFAR10))]))
RUNS.append(
    ("guard_candidates", sorted(glob.glob(os.path.join(HERE, "..", "docs", "benchmarks", "small_*.json"))))
)


SHARDS = 2


def main(args=None):
    args = sys.argv[1:] if args is None else args
    if args[:1] == ["--shard"]:
        return run(RUNS[int(args[1]) :: SHARDS])
    script = os.path.abspath(__file__)
    children = [subprocess.Popen([sys.executable, script, "--shard", str(i)]) for i in range(1, SHARDS)]
    try:
        failed = run(RUNS[0::SHARDS])
    finally:
        codes = [child.wait() for child in children]
    return max([failed, *codes])


def run(runs):
    """Each benchmark of `runs` in this process; 1 at the first that fails."""
    sys.path.insert(0, HERE)
    for name, argv in runs:
        start = time.perf_counter()
        sys.argv = [os.path.join("benchmarks", f"{name}.py"), *argv]
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                importlib.import_module(name).main()
            except SystemExit as exit:
                if exit.code:
                    print(f"{name}: exit {exit.code}", file=sys.stderr)
                    return 1
        print(f"{name} --quick: ran in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
