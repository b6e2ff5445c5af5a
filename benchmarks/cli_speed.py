"""How quick and quiet is the `onecycle` command? Measured side by side in one run.

- `onecycle --help`, against `python -c "import keras"` (what --help cost when it imported Keras);
- the time to the first progress line of `onecycle compare` on digits (one short training), and the
  lines that came before it (none should be TensorFlow's log).

    python benchmarks/cli_speed.py --json docs/benchmarks/cli_speed.json
    python benchmarks/cli_speed.py --quick
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from stored_output import StoredOutput

# What TensorFlow's C++ and absl logs look like ("I0000 00:00:...", "WARNING: All log messages ...")
TF_LOG = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages|To enable the following instructions)"
)


def _command():
    found = shutil.which("onecycle")
    return [found] if found else [sys.executable, "-m", "onecycle"]


def _wall(argv, env):
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _first_progress(env, out_dir):
    """Seconds to the first line the command prints, and the lines of either stream before it."""
    argv = [*_command(), "compare", "digits", "--epochs", "1", "--seeds", "1", "--lrs", "none"]
    argv += ["--arms", "constant-default", "--out", out_dir]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    before, first = [], None
    for line in proc.stdout:
        if first is None and line.strip() and not TF_LOG.match(line):
            first = time.perf_counter() - start
        elif first is None:
            before.append(line.rstrip())
    proc.wait()
    return first, before, proc.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repeat each")
    parser.add_argument("--json")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell
    helps = [_wall([*_command(), "--help"], env) for _ in range(repeats)]
    keras = [_wall([sys.executable, "-c", "import keras"], env) for _ in range(repeats)]
    with tempfile.TemporaryDirectory() as work:
        first, before, code = _first_progress(env, os.path.join(work, "run"))
    out = StoredOutput(args.json)
    help_s, keras_s = float(np.median(helps)), float(np.median(keras))
    out.line(f"Median of {repeats} runs each, side by side on this machine:")
    out.line()
    out.line("| what | seconds | ratio to `import keras` |")
    out.line("|---|---|---|")
    out.line(f"| `onecycle --help` | {help_s:.2f} | {help_s / keras_s:.2f} |")
    out.line(f'| `python -c "import keras"` | {keras_s:.2f} | 1.00 |')
    shown = "n/a (no line)" if first is None else f"{first:.1f}"
    out.line(f"| `onecycle compare digits` to its first line | {shown} | n/a |")
    out.line()
    out.line(
        f"Lines before the first progress line: {len(before)}"
        + (f" ({sum(bool(TF_LOG.match(b)) for b in before)} of them TensorFlow's log)" if before else "")
        + f"; exit status {code}."
    )
    out.save(
        help_seconds=helps,
        import_keras_seconds=keras,
        first_line_seconds=first,
        lines_before_first=before,
        exit_status=code,
    )


if __name__ == "__main__":
    main()
