#!/usr/bin/env bash
# The test suite: everything on TensorFlow (the default backend), then the library, fault, bad-input, TensorBoard and own-data
# tests on JAX and PyTorch, less those that touch no backend (NumPy references, marked backend_independent: once is enough)
# and the slow subprocess tests (the harness's resume and TensorFlow's strategies) and the harness's damaged-backup
# tests, which run on TensorFlow only.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 NO_MKDOCS_2_WARNING=1
stage() { echo "== [${SECONDS} s] $*"; }  # each stage's start, in seconds since the start
stage "ruff, the API site, the generated docs"
ruff check src tests benchmarks
ruff format --check src tests benchmarks
mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
python benchmarks/doc_tables.py README.md docs/RESULTS.md docs/RECIPE.md docs/BENCHMARKS.md docs/guides/choosing.md docs/guides/cli.md --check
stage "TensorFlow: every test"
python -m pytest -q -rs -p no:cacheprovider -n 2 --durations=10 tests  # two workers: a quarter less wall time on two cores
for backend in jax torch; do
  stage "KERAS_BACKEND=$backend"
  workers=$([ "$backend" = jax ] && echo "-n 2" || echo "")  # PyTorch slows when two processes share the cores
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider $workers --durations=10 -m "not slow and not backend_independent" \
    tests/test_curves.py tests/test_schedules.py tests/test_optimizers.py tests/test_finder.py tests/test_fit.py \
    tests/test_resume.py::test_backup_and_restore_mid_epoch_never_restarts_the_cycle tests/test_resume.py::test_a_training_interrupted_midway_restarts_and_matches_an_uninterrupted_run tests/test_faults.py tests/test_bad_input.py tests/test_groups.py tests/test_fine_tune.py tests/test_weight_decay.py \
    tests/test_numbers.py tests/test_tensorboard.py tests/test_own_data.py tests/test_models.py
done
for backend in jax torch; do
  stage "KERAS_BACKEND=$backend: the harness's ScheduleFreeAdamW step against the method, Keras' own against it"
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider tests/test_arms.py -k "averaged_weights_match or drifts"
done
lowest=$(python -c 'import re, tomllib; d = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print(re.search(r"keras>=([\d.]+)", " ".join(d)).group(1))')
stage "Keras $lowest, the lowest pyproject.toml accepts (TensorFlow): the internals and the range test"
keras_dir=$(mktemp -d)
pip install -q --no-deps --target "$keras_dir" "keras==$lowest"
PYTHONPATH="$keras_dir" python -m pytest -q -p no:cacheprovider -n 2 -m "not slow" -W ignore::DeprecationWarning \
  tests/test_keras_internals.py tests/test_finder.py
PYTHONPATH="$keras_dir" python -c "import keras; assert keras.version().startswith('$lowest'), keras.version()"
rm -rf "$keras_dir"
stage "benchmarks, --quick, in two processes (checks that they run; no timing is asserted)"
python benchmarks/quick.py
stage "done"
