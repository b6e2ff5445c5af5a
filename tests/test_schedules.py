import math
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:  # imported once with the module, not inside each test (PyTorch is the reference here, any backend)
    import torch
except ImportError:
    torch = None

import onecycle
from onecycle import OneCycle


@pytest.mark.backend_independent
def test_defaults_are_the_articles_schedule():
    schedule = OneCycle(1.0, 100)
    # start max/10, linear rise to max at 45%, back to start at 90%, down to start/1000 at 100%
    steps = [0, 45, 90, 95, 100, 1000]
    np.testing.assert_allclose(
        schedule.evaluate(steps), [0.1, 1.0, 0.1, 0.5 * (0.1 + 1e-4), 1e-4, 1e-4], rtol=1e-12
    )
    assert schedule.evaluate(22.5) == pytest.approx(0.55)


@pytest.mark.backend_independent
def test_matches_geron_one_cycle_scheduler():
    """The article's callback (Hands-On ML, chapter 11), transcribed, at a length where its integer
    phase boundaries equal the fractional ones."""
    iterations, max_rate = 1000, 0.05
    start, last_rate = max_rate / 10, max_rate / 10 / 1000
    last_iterations = 100
    half = (iterations - last_iterations) // 2

    def article(i):
        if i < half:
            return (max_rate - start) * i / half + start
        if i < 2 * half:
            return (start - max_rate) * (i - half) / half + max_rate
        return (last_rate - start) * (i - 2 * half) / (iterations - 2 * half) + start

    schedule = OneCycle(max_rate, iterations)
    steps = np.arange(iterations)
    np.testing.assert_allclose(schedule.evaluate(steps), [article(i) for i in steps], rtol=1e-9)


def _torch_lrs(total_steps, **kwargs):
    if torch is None:
        pytest.skip("PyTorch is not installed")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, total_steps=total_steps, **kwargs)
    lrs, momenta = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(total_steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            momenta.append(optimizer.param_groups[0]["momentum"])
            optimizer.step()
            scheduler.step()
    return np.array(lrs), np.array(momenta)


TORCH_CASES = [
    (total, pct, strategy, three)
    for total in (2, 3, 5, 7, 10, 33, 100, 1001)
    for pct in (0.05, 0.25, 0.3, 0.5, 0.77, 0.95)
    for strategy in ("cos", "linear")
    for three in (False, True)
]


@pytest.mark.backend_independent
@pytest.mark.parametrize("total,pct,strategy,three", TORCH_CASES)
def test_like_torch_matches_pytorch(total, pct, strategy, three):
    kwargs = dict(
        max_lr=0.3,
        pct_start=pct,
        anneal_strategy=strategy,
        div_factor=20.0,
        final_div_factor=1e3,
        three_phase=three,
    )
    try:
        expected, expected_momenta = _torch_lrs(total, **kwargs)
    except ZeroDivisionError:
        pytest.skip("PyTorch itself divides by zero for this configuration")
    schedule = OneCycle.like_torch(total_steps=total, **kwargs)
    steps = np.arange(total)
    np.testing.assert_allclose(schedule.evaluate(steps), expected, rtol=1e-6)
    np.testing.assert_allclose(schedule.momentum(0.95, 0.85).evaluate(steps), expected_momenta, rtol=1e-6)


def _fastai_lr(pos, pct_start, start, middle, end):
    """fastai's combined_cos, transcribed: SchedCos(start, middle) then SchedCos(middle, end)."""
    cos = lambda a, b, p: a + (1 + math.cos(math.pi * (1 - p))) * (b - a) / 2
    if pos >= 1:
        return cos(middle, end, 1.0)
    if pos < pct_start:
        return cos(start, middle, pos / pct_start)
    return cos(middle, end, (pos - pct_start) / (1 - pct_start))


@pytest.mark.backend_independent
@pytest.mark.parametrize("total,pct", [(1, 0.25), (7, 0.25), (100, 0.3), (999, 0.1)])
def test_like_fastai_matches_fit_one_cycle(total, pct):
    schedule = OneCycle.like_fastai(0.01, total, pct_start=pct, div=25.0, div_final=1e5)
    expected = [_fastai_lr(s / total, pct, 0.01 / 25, 0.01, 0.01 / 1e5) for s in range(total + 1)]
    np.testing.assert_allclose(schedule.evaluate(np.arange(total + 1)), expected, rtol=1e-6)


def test_compiled_values_match_numpy():
    schedule = OneCycle(0.5, 37, shape="cosine")
    steps = np.arange(50)
    compiled = keras.ops.convert_to_numpy(schedule(steps))
    np.testing.assert_allclose(compiled, schedule.evaluate(steps), rtol=1e-5)


@pytest.mark.backend_independent
def test_momentum_moves_against_the_rate():
    schedule = OneCycle(1.0, 100)
    momentum = schedule.momentum(0.95, 0.85)
    np.testing.assert_allclose(
        momentum.evaluate([0, 45, 90, 95, 100, 200]), [0.95, 0.85, 0.95, 0.95, 0.95, 0.95]
    )


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(max_lr=0.1, total_steps=0), "total_steps=0"),
        (dict(max_lr=0.1, total_steps=-1), "total_steps=-1"),
        (dict(max_lr=0.1, total_steps=2.5), "total_steps=2.5"),
        (dict(max_lr=0.0, total_steps=10), "max_lr=0.0"),
        (dict(max_lr=float("nan"), total_steps=10), "max_lr=nan"),
        (dict(max_lr=0.1, total_steps=10, warmup_fraction=0.0), "warmup_fraction=0.0"),
        (dict(max_lr=0.1, total_steps=10, warmup_fraction=1.2), "warmup_fraction=1.2"),
        (dict(max_lr=0.1, total_steps=10, annihilation_fraction=-0.1), "annihilation_fraction=-0.1"),
        (dict(max_lr=0.1, total_steps=10, annihilation_fraction=0), "annihilation_fraction=0"),
        (
            dict(max_lr=0.1, total_steps=10, warmup_fraction=0.6, annihilation_fraction=0.5),
            "sum to at most 1",
        ),
        (dict(max_lr=0.1, total_steps=10, start_lr=0.2), "start_lr=0.2"),
        (dict(max_lr=0.1, total_steps=10, final_lr=0.05), "final_lr=0.05"),
        (dict(max_lr=0.1, total_steps=10, shape="step"), "shape='step'"),
    ],
)
def test_bad_arguments_name_argument_and_value(kwargs, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(")):
        OneCycle(**kwargs)


@pytest.mark.backend_independent
def test_like_torch_rejects_bad_strategy():
    with pytest.raises(ValueError, match="anneal_strategy='cosine'"):
        OneCycle.like_torch(0.1, 10, anneal_strategy="cosine")


def test_config_round_trip():
    for schedule in (OneCycle(0.2, 50, shape="cosine"), OneCycle.like_torch(0.1, 10, three_phase=True)):
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
        assert type(restored) is type(schedule)
        np.testing.assert_allclose(restored.evaluate(np.arange(60)), schedule.evaluate(np.arange(60)))


def test_saved_model_resumes_schedule_in_fresh_process(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = np.random.rand(32, 4).astype("float32"), np.random.rand(32, 1).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    schedule = OneCycle(0.1, 20)
    model.compile(onecycle.optimizers.SGD(learning_rate=schedule, momentum=schedule.momentum()), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 4 steps
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    script = f"""
import numpy as np, keras, onecycle
model = keras.saving.load_model({str(path)!r})
opt = model.optimizer
assert type(opt) is onecycle.optimizers.SGD and isinstance(opt.momentum, onecycle.Piecewise), opt
assert int(opt.iterations) == 4, int(opt.iterations)
model.fit(np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "y.npy")!r}), batch_size=8, epochs=1, verbose=0)
print(int(opt.iterations), float(opt.learning_rate))
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout
    steps, lr = out.split()[-2:]
    assert int(steps) == 8
    assert float(lr) == pytest.approx(float(schedule.evaluate(8)), rel=1e-5)


@pytest.mark.backend_independent
@settings(max_examples=200, deadline=None)
@given(
    max_lr=st.floats(1e-6, 10.0),
    total_steps=st.integers(1, 100_000),
    start_div=st.floats(1.0, 1e3),
    final_div=st.floats(1.0, 1e5),
    warmup=st.floats(0.01, 0.99),
    annihilation=st.floats(0.01, 0.99),
    shape=st.sampled_from(["linear", "cosine", "exponential"]),
    steps=st.lists(st.floats(0, 1e9), min_size=1, max_size=20),
)
def test_any_valid_one_cycle_stays_within_final_and_max(
    max_lr, total_steps, start_div, final_div, warmup, annihilation, shape, steps
):
    annihilation = min(annihilation, 1.0 - warmup)
    schedule = OneCycle(
        max_lr,
        total_steps,
        start_lr=max_lr / start_div,
        final_lr=max_lr / start_div / final_div,
        warmup_fraction=warmup,
        annihilation_fraction=annihilation,
        shape=shape,
    )
    values = schedule.evaluate(np.array(steps + [total_steps, 10 * total_steps]))
    assert np.all(np.isfinite(values)) and np.all(values > 0)
    assert np.all(values >= schedule.final_lr * (1 - 1e-9)) and np.all(values <= max_lr * (1 + 1e-9))
    assert values[-1] == pytest.approx(schedule.final_lr) and values[-2] == pytest.approx(schedule.final_lr)


@pytest.mark.backend_independent
@pytest.mark.parametrize("warmup", [0.3, 0.25, 0.45])
def test_two_phase_one_cycle_falls_straight_from_the_peak(warmup):
    """warmup_fraction + annihilation_fraction == 1: no jump from the peak down to start_lr."""
    schedule = OneCycle(1.0, 100, warmup_fraction=warmup, annihilation_fraction=1.0 - warmup, shape="cosine")
    values = schedule.evaluate(np.arange(101))
    peak = int(round(warmup * 100))
    assert values[peak] == pytest.approx(1.0)
    assert np.all(np.diff(values[peak:]) <= 1e-12) and np.max(-np.diff(values[peak:])) < 0.05
    assert values[-1] == pytest.approx(schedule.final_lr)
    momentum = schedule.momentum().evaluate([0, peak, 100])
    np.testing.assert_allclose(momentum, [0.95, 0.85, 0.95])


@pytest.mark.backend_independent
@pytest.mark.parametrize("total", [7, 100, 1001])
def test_library_shapes_at_their_own_defaults(total):
    """Called with no optional argument, each factory gives that library's default curve."""
    fastai = [_fastai_lr(s / total, 0.25, 0.02 / 25, 0.02, 0.02 / 1e5) for s in range(total + 1)]
    np.testing.assert_allclose(
        OneCycle.like_fastai(0.02, total).evaluate(np.arange(total + 1)), fastai, rtol=1e-6
    )
    expected, _ = _torch_lrs(
        total,
        max_lr=0.02,
        pct_start=0.3,
        anneal_strategy="cos",
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
    )
    np.testing.assert_allclose(
        OneCycle.like_torch(0.02, total).evaluate(np.arange(total)), expected, rtol=1e-6
    )
    assert OneCycle.like_torch(0.02, total).name == "OneCycleLikeTorch"  # the names their configs carry
    assert OneCycle.like_fastai(0.02, total).name == "OneCycleLikeFastai"


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "factory,kwargs,match",
    [
        ("like_fastai", dict(max_lr=-1.0, total_steps=10), "max_lr=-1.0"),
        ("like_fastai", dict(max_lr=0.1, total_steps=0), "total_steps=0"),
        ("like_fastai", dict(max_lr=0.1, total_steps=10, pct_start=1.0), "pct_start=1.0"),
        ("like_fastai", dict(max_lr=0.1, total_steps=10, pct_start=0.0), "pct_start=0.0"),
        ("like_fastai", dict(max_lr=0.1, total_steps=10, div=0.0), "div=0.0"),
        ("like_fastai", dict(max_lr=0.1, total_steps=10, div_final=-2.0), "div_final=-2.0"),
        ("like_torch", dict(max_lr=0.0, total_steps=10), "max_lr=0.0"),
        ("like_torch", dict(max_lr=0.1, total_steps=-3), "total_steps=-3"),
        ("like_torch", dict(max_lr=0.1, total_steps=10, pct_start=0.0), "pct_start=0.0"),
        ("like_torch", dict(max_lr=0.1, total_steps=10, pct_start=1.0), "pct_start=1.0"),
        ("like_torch", dict(max_lr=0.1, total_steps=10, pct_start=1.5), "pct_start=1.5"),
        ("like_torch", dict(max_lr=0.1, total_steps=10, div_factor=-1.0), "div_factor=-1.0"),
        ("like_torch", dict(max_lr=0.1, total_steps=10, final_div_factor=0.0), "final_div_factor=0.0"),
    ],
)
def test_library_shapes_name_the_bad_argument(factory, kwargs, match):
    with pytest.raises(ValueError, match=f"Received: {match}"):
        getattr(OneCycle, factory)(**kwargs)


def test_eager_value_is_the_numpy_value_and_is_cached_per_step():
    """The one-number path PyTorch's eager train step takes, called directly on any backend."""
    schedule = OneCycle(1.0, 20, shape="cosine")
    for step in (0, 3, 9, 15, 19, 25):
        value = float(keras.ops.convert_to_numpy(schedule._eager_value(step)))
        assert value == pytest.approx(float(schedule.evaluate(step)), rel=1e-6)
    first = schedule._eager_value(7)
    assert schedule._eager_value(7) is first and schedule._eager_value(8) is not first


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: OneCycle(0.1, 10, start_lr=0.0),
            "Argument `start_lr` must be a finite number > 0. Received: start_lr=0.0",
        ),
        (
            lambda: OneCycle(0.1, 10, final_lr=-1e-5),
            "Argument `final_lr` must be a finite number > 0. Received: final_lr=-1e-05",
        ),
        (
            lambda: OneCycle(0.1, 10, warmup_fraction=1.0),
            "Argument `warmup_fraction` must be in (0.0, 1.0). Received: warmup_fraction=1.0",
        ),
        (
            lambda: OneCycle(0.1, 10, annihilation_fraction=1.0),
            "Argument `annihilation_fraction` must be in (0.0, 1.0). Received: annihilation_fraction=1.0",
        ),
        (
            lambda: OneCycle(0.1, 10, warmup_fraction=0.6, annihilation_fraction=0.5),
            "Arguments `warmup_fraction` and `annihilation_fraction` must sum to at most 1. "
            "Received: warmup_fraction=0.6, annihilation_fraction=0.5",
        ),
        (
            lambda: onecycle.Piecewise([1.0], [1.0], ["linear"]),
            "Argument `values` must hold one more value than `boundaries`. Received: values=[1.0] for boundaries=[1.0]",
        ),
        (
            lambda: onecycle.Piecewise([1.0], [1.0, 0.0], []),
            "Argument `shapes` must hold one shape per phase. Received: shapes=[] for boundaries=[1.0]",
        ),
        (
            lambda: onecycle.Piecewise([1.0], [1.0, 0.0], ["step"]),
            "Argument `shape` must be one of",
        ),
        # the exponential phase is the first; the value that ends it is 0 (the last value is not)
        (
            lambda: onecycle.Piecewise([1.0, 2.0], [1.0, 0.0, 1.0], ["exponential", "linear"]),
            "An exponential phase needs values > 0 at both ends. Received: values=[1.0, 0.0, 1.0]",
        ),
        (
            lambda: OneCycle(0.1, 10).momentum(high=1.0),
            "Argument `high` must be in [0.0, 1.0). Received: high=1.0",
        ),
        (
            lambda: OneCycle(0.1, 10).momentum(high=0.95, low=1.0),
            "Argument `low` must be in [0.0, 1.0). Received: low=1.0",
        ),
    ],
)
def test_each_check_gives_its_whole_message(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value).startswith(message)


@pytest.mark.backend_independent
def test_names_dtypes_and_a_constant_momentum():
    assert onecycle.Piecewise([1.0], [1.0, 0.0], ["linear"]).name == "Piecewise"
    assert OneCycle(0.1, 10).momentum().name == "OneCycleMomentum"
    assert OneCycle(0.1, 10, name="Mine").momentum().name == "MineMomentum"
    assert OneCycle(0.1, 10).evaluate([0, 5], dtype="float32").dtype == np.float32
    assert OneCycle(0.1, 10).evaluate([0, 5]).dtype == np.float64
    # low == high: a momentum held constant
    np.testing.assert_allclose(OneCycle(0.1, 10).momentum(0.9, 0.9).evaluate(np.arange(11)), 0.9, rtol=1e-12)
