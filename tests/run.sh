#!/usr/bin/env bash
# The test suite: everything on TensorFlow (the default backend), then the library, fault, bad-input, TensorBoard and own-data
# tests on JAX and PyTorch, less those that touch no backend (NumPy references, marked backend_independent: once is enough)
# and the slow subprocess tests (the harness's resume and TensorFlow's strategies, which run on TensorFlow only).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 NO_MKDOCS_2_WARNING=1
echo "== ruff, the API site, the generated docs"
ruff check src tests benchmarks
ruff format --check src tests benchmarks
mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
onecycle docs README.md docs/RESULTS.md docs/RECIPE.md docs/BENCHMARKS.md docs/guides/choosing.md --check
echo "== TensorFlow: every test"
python -m pytest -q -rs -p no:cacheprovider tests
for backend in jax torch; do
  echo "== KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider -m "not slow and not backend_independent" \
    tests/test_curves.py tests/test_schedules.py tests/test_optimizers.py tests/test_finder.py tests/test_fit.py \
    tests/test_resume.py tests/test_faults.py tests/test_bad_input.py tests/test_groups.py tests/test_fine_tune.py tests/test_weight_decay.py \
    tests/test_numbers.py tests/test_tensorboard.py tests/test_own_data.py
done
echo "== KERAS_BACKEND=jax: ScheduleFreeAdamW's averaged point against the method (JAX follows it exactly)"
KERAS_BACKEND=jax python -m pytest -q -p no:cacheprovider tests/test_arms.py -k averaged_weights_match
echo "== benchmarks, --quick (checks that they run; no timing is asserted)"
python benchmarks/schedule_cost.py --quick
python benchmarks/finder_quality.py digits --quick > /dev/null
python benchmarks/batch_size.py digits --quick > /dev/null
python benchmarks/time_to_accuracy.py --quick > /dev/null
python benchmarks/transfer.py --quick > /dev/null
python benchmarks/wd_quality.py digits --quick > /dev/null
python benchmarks/batch_speed.py --quick > /dev/null
python benchmarks/harness_cost.py digits --quick > /dev/null
python benchmarks/wd_cost.py digits --quick > /dev/null
python benchmarks/recipe.py digits --quick --variants defaults,guard,cosine --schedule-free > /dev/null
if [ -f ../shared/data/cifar10/cifar10_jpeg_q75.npz ]; then
  python benchmarks/gpu_cifar10.py --quick --data-dir ../shared/data > /dev/null
fi
