import math
import os
import warnings

import keras
import numpy as np
import pytest

import onecycle


def test_fit_one_cycle_finds_sizes_and_logs(tiny_classifier):
    model, x, y = tiny_classifier()
    history = onecycle.fit_one_cycle(
        model,
        x,
        y,
        epochs=3,
        batch_size=20,
        validation_split=0.25,
        verbose=0,
        find_lr_kwargs={"num_steps": 40},
        guard=False,
    )
    assert isinstance(history.lr_finder, onecycle.LRFinderResult)
    steps = 3 * math.ceil(72 / 20)  # 72 training samples: the partial last batch counts
    assert history.schedule.total_steps == steps
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == steps
    assert history.schedule.max_lr == pytest.approx(history.lr_finder.suggest())
    lr = history.history["learning_rate"]
    assert len(lr) == 3 and lr[-1] == pytest.approx(history.schedule.final_lr, rel=1e-3)
    assert history.history["momentum"][-1] == pytest.approx(0.95)


def test_fit_one_cycle_with_given_rate_and_gradient_accumulation(tiny_classifier):
    model, x, y = tiny_classifier(onecycle.optimizers.SGD(0.01, momentum=0.9, gradient_accumulation_steps=2))
    history = onecycle.fit_one_cycle(model, x, y, epochs=2, batch_size=16, max_lr=0.1, verbose=0, guard=False)
    assert history.lr_finder is None
    assert history.schedule.total_steps == 2 * 6  # every batch counts: the schedule reads the batch counter
    assert history.history["learning_rate"][-1] == pytest.approx(history.schedule.final_lr, rel=1e-3)


def test_schedule_logger_with_plain_keras_optimizer(tiny_classifier):
    schedule = onecycle.OneCycle(0.1, 12)
    model, x, y = tiny_classifier(keras.optimizers.SGD(schedule))
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[onecycle.ScheduleLogger()])
    assert history.history["learning_rate"] == pytest.approx(
        [float(schedule.evaluate(6)), float(schedule.evaluate(12))], rel=1e-3
    )
    assert "momentum" not in history.history


def test_bad_epochs(tiny_classifier):
    model, x, y = tiny_classifier()
    with pytest.raises(ValueError, match="epochs=0"):
        onecycle.fit_one_cycle(model, x, y, epochs=0, max_lr=0.1, guard=False)


def test_plain_keras_optimizer_warns_that_momentum_stays(tiny_classifier):
    model, x, y = tiny_classifier(keras.optimizers.SGD(0.01, momentum=0.9))
    with pytest.warns(UserWarning, match="momentum stays constant"):
        onecycle.fit_one_cycle(model, x, y, epochs=1, max_lr=0.1, verbose=0, guard=False)


def test_resume_from_saved_model_and_initial_epoch_continues_the_cycle(tiny_classifier, lr_trace, tmp_path):
    schedule = onecycle.OneCycle(0.1, 4 * 6)  # 4 epochs of 6 batches
    model, x, y = tiny_classifier(onecycle.optimizers.SGD(schedule, momentum=schedule.momentum()))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    model.save(tmp_path / "half.keras")
    restored = keras.saving.load_model(tmp_path / "half.keras")
    trace = lr_trace()
    restored.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, verbose=0, callbacks=[trace])
    np.testing.assert_allclose(trace.trace, schedule.evaluate(np.arange(12, 24)), rtol=1e-4)
    assert float(keras.ops.convert_to_numpy(restored.optimizer.learning_rate)) == pytest.approx(
        schedule.final_lr, rel=1e-3
    )


def test_verbose_0_silences_the_range_test_too(tiny_classifier, capsys):
    model, x, y = tiny_classifier()
    onecycle.fit_one_cycle(
        model, x, y, epochs=1, batch_size=20, verbose=0, find_lr_kwargs={"num_steps": 10}, guard=False
    )
    assert capsys.readouterr().out == ""
    onecycle.fit_one_cycle(
        model,
        x,
        y,
        epochs=1,
        batch_size=20,
        verbose=0,
        find_lr_kwargs={"num_steps": 10, "verbose": 1},
        guard=False,
    )
    assert "step" in capsys.readouterr().out  # an explicit finder verbosity wins


def test_fit_one_cycle_then_save_keeps_the_optimizer_state(tiny_classifier, tmp_path):
    """The optimizer was compiled with a float rate (a tracked variable); after fit_one_cycle put a
    schedule in its place, a saved model must load with the step count, so the cycle continues."""
    import warnings

    model, x, y = tiny_classifier()
    onecycle.fit_one_cycle(model, x, y, epochs=1, batch_size=16, max_lr=0.1, verbose=0, guard=False)
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras only warns when it skips the optimizer's variables
        restored = keras.saving.load_model(tmp_path / "m.keras")
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 6
    assert isinstance(restored.optimizer._learning_rate, onecycle.OneCycle)


class SlowSGD(onecycle.optimizers.SGD):
    """An SGD whose Keras default rate is tiny: the guard's constant reference barely trains."""

    def __init__(self, learning_rate=1e-9, name="slow_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)


def _primed(tiny_classifier, optimizer=None, seed=0):
    model, x, y = tiny_classifier(optimizer, seed=seed)
    model.evaluate(x[:1], y[:1], verbose=0)  # the first evaluate builds what the guard's runs build
    return model, x, y


@pytest.fixture
def suggests(monkeypatch):
    """Make the range test suggest `peak`, whatever its curve: the guard runs only without `max_lr`."""

    def set_peak(peak):
        monkeypatch.setattr(onecycle.LRFinderResult, "suggest", lambda self, method="minimum": peak)

    return set_peak


FEW_STEPS = {"num_steps": 5, "verbose": 0}


def test_guard_keeps_1cycle_and_changes_nothing_when_1cycle_wins(tiny_classifier, suggests):
    suggests(0.5)
    plain, x, y = _primed(tiny_classifier, SlowSGD(momentum=0.9))
    history = onecycle.fit_one_cycle(plain, x, y, epochs=2, batch_size=16, max_lr=0.5, verbose=0, guard=False)
    assert history.guard is None
    guarded, _, _ = _primed(tiny_classifier, SlowSGD(momentum=0.9))
    history = onecycle.fit_one_cycle(
        guarded, x, y, epochs=2, batch_size=16, verbose=0, guard=True, find_lr_kwargs=FEW_STEPS
    )
    assert history.guard["chose"] == "onecycle" and history.guard["constant_rate"] == pytest.approx(1e-9)
    assert history.guard["judged_by"] == "loss"
    assert history.guard["onecycle_loss"] < history.guard["constant_loss"]
    for a, b in zip(plain.get_weights(), guarded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # same weights and data order as guard=False
    assert history.history["learning_rate"][-1] == pytest.approx(history.schedule.final_lr, rel=1e-3)


def test_guard_switches_to_the_compiled_rate_and_warns_with_both_losses(tiny_classifier, suggests, capsys):
    suggests(1e4)
    model, x, y = _primed(tiny_classifier, onecycle.optimizers.SGD(0.02, momentum=0.9))
    with pytest.warns(UserWarning, match=r"compiled rate held constant \(0\.02\) had a lower loss") as caught:
        history = onecycle.fit_one_cycle(
            model, x, y, epochs=2, batch_size=16, verbose=0, guard=True, find_lr_kwargs=FEW_STEPS
        )
    guard = history.guard
    assert (
        guard["chose"] == "constant"
        and guard["constant_rate"] == pytest.approx(0.02)
        and guard["holdout"] == 0.2
    )
    (warning,) = [w for w in caught if issubclass(w.category, UserWarning)]
    message = str(warning.message)
    if "MUTANT_UNDER_TEST" not in os.environ:  # mutation testing wraps each function, which moves the frame
        assert warning.filename == __file__  # it points at the caller of fit_one_cycle
    assert f"{guard['constant_loss']:.6g}" in message and f"{guard['onecycle_loss']:.6g}" in message
    np.testing.assert_allclose(history.history["learning_rate"], [0.02, 0.02], rtol=1e-6)
    assert model.optimizer.momentum == 0.9  # the compiled momentum, not 1cycle's
    constant = model.optimizer.get_config()["learning_rate"]  # a schedule, so that a saved model loads
    assert constant["class_name"] == "Piecewise"
    assert {k: constant["config"][k] for k in ("boundaries", "values", "shapes", "name")} == {
        "boundaries": [1.0],
        "values": [pytest.approx(0.02), pytest.approx(0.02)],
        "shapes": ["linear"],
        "name": "Constant",
    }
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2 * math.ceil(96 / 16)
    assert capsys.readouterr().out == ""  # verbose=0: the guard's trainings print nothing either


def test_guard_judges_by_the_first_compiled_metric(tiny_classifier, suggests):
    suggests(1e4)
    model, x, y = tiny_classifier()
    model.compile(
        onecycle.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.evaluate(x[:1], y[:1], verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = onecycle.fit_one_cycle(
            model, x, y, epochs=2, batch_size=16, verbose=0, guard=True, find_lr_kwargs=FEW_STEPS
        )
    guard = history.guard
    assert guard["judged_by"] == "accuracy"
    assert {"onecycle_accuracy", "constant_accuracy", "onecycle_loss", "constant_loss"} <= set(guard)
    expected = "onecycle" if guard["onecycle_accuracy"] >= guard["constant_accuracy"] else "constant"
    assert guard["chose"] == expected
    said = [str(w.message) for w in caught if "held constant" in str(w.message)]
    assert said == ([] if expected == "onecycle" else [said[0]])
    if said:  # accuracy: higher is better, and the warning says so
        assert f"had a higher accuracy ({guard['constant_accuracy']:.6g}) than 1cycle" in said[0]


@pytest.mark.backend_independent
def test_judged_by_reads_the_direction_from_the_metric_name():
    from onecycle.fit import judged_by

    assert judged_by({"loss": 1.0, "accuracy": 0.5}) == ("accuracy", True)
    assert judged_by({"loss": 1.0, "sparse_categorical_accuracy": 0.5, "mae": 2}) == (
        "sparse_categorical_accuracy",
        True,
    )
    assert judged_by({"loss": 1.0, "root_mean_squared_error": 2.0}) == ("root_mean_squared_error", False)
    assert judged_by({"loss": 1.0, "mae": 2.0}) == ("mae", False)
    assert judged_by({"loss": 1.0, "my_score": 2.0}) == ("loss", False)  # direction unknown: the loss
    assert judged_by({"loss": 1.0}) == ("loss", False)


def test_guard_never_overrides_an_explicit_max_lr(tiny_classifier):
    model, x, y = tiny_classifier()
    history = onecycle.fit_one_cycle(model, x, y, epochs=1, batch_size=16, max_lr=0.05, verbose=0)
    assert history.guard is None and history.schedule.max_lr == 0.05  # 96 samples, guard="auto": off
    with pytest.raises(
        ValueError, match=r"never overrides an explicit `max_lr`.*Received: guard=True, max_lr=0.05"
    ):
        onecycle.fit_one_cycle(model, x, y, epochs=1, max_lr=0.05, guard=True)


def test_guard_auto_runs_on_small_arrays_only(tiny_classifier, monkeypatch, suggests):
    from onecycle import fit

    suggests(0.05)
    model, x, y = tiny_classifier()
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=1, batch_size=16, verbose=0, find_lr_kwargs=FEW_STEPS
    )
    assert history.guard is not None  # 96 samples: on by default
    monkeypatch.setattr(fit, "GUARD_MAX_SAMPLES", 95)
    model, x, y = tiny_classifier()
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=1, batch_size=16, verbose=0, find_lr_kwargs=FEW_STEPS
    )
    assert history.guard is None
    model, x, y = tiny_classifier()
    history = onecycle.fit_one_cycle(
        model,
        x,
        y,
        epochs=1,
        batch_size=16,
        verbose=0,
        validation_split=0.25,
        guard=True,
        find_lr_kwargs=FEW_STEPS,
    )
    assert history.guard is None  # it does not stack with validation_split
    monkeypatch.setattr(fit, "GUARD_MAX_SAMPLES", 96)
    model, x, y = tiny_classifier()
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=1, batch_size=16, verbose=0, find_lr_kwargs=FEW_STEPS
    )
    assert history.guard is not None  # up to GUARD_MAX_SAMPLES samples, that many included


def test_guard_stays_off_where_it_cannot_run_or_is_told_not_to(tiny_classifier, suggests):
    suggests(0.05)
    for n, runs in ((9, False), (10, True)):  # a hold-out of 2 samples at least
        model, x, y = tiny_classifier(n=n)
        history = onecycle.fit_one_cycle(
            model, x, y, epochs=1, batch_size=4, verbose=0, guard=True, find_lr_kwargs=FEW_STEPS
        )
        assert (history.guard is not None) == runs, n
    for off in (
        {"guard": False},
        {"steps_per_epoch": 3},
        {"sample_weight": np.ones(96)},
        {"class_weight": {0: 1.0, 1: 2.0, 2: 1.0}},
    ):
        model, x, y = tiny_classifier()
        history = onecycle.fit_one_cycle(
            model,
            x,
            y,
            epochs=1,
            batch_size=16,
            verbose=0,
            find_lr_kwargs=FEW_STEPS,
            **{"guard": True, **off},
        )
        assert history.guard is None, off


def test_guard_rejects_other_values(tiny_classifier):
    model, x, y = tiny_classifier()
    with pytest.raises(
        ValueError, match=r"Argument `guard` must be True, False or 'auto'. Received: guard='yes'"
    ):
        onecycle.fit_one_cycle(model, x, y, epochs=1, guard="yes")


@pytest.mark.backend_independent
def test_a_score_that_is_not_a_number_ranks_last():
    from onecycle.fit import _finite

    assert _finite(0.5, True) == 0.5 and _finite(0.5, False) == 0.5
    for bad in (float("nan"), float("inf"), -float("inf")):
        assert _finite(bad, True) == -float("inf") and _finite(bad, False) == float("inf")


def _dense(seed=0):
    """A model without dropout, compiled with SGD 0.02 (momentum 0.9): trained without shuffling, every
    run from the same weights takes the same steps."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(onecycle.optimizers.SGD(0.02, momentum=0.9), "sparse_categorical_crossentropy")
    return model


def test_guard_scores_are_those_of_the_trainings_it_describes(tiny_classifier, suggests):
    """Each candidate trains on the first 80% of x from the same weights, in the user's batches and with
    their fit arguments (here shuffle=False), 1cycle with its cycled momentum, and is scored on the rest."""
    suggests(0.3)
    _, x, y = tiny_classifier()
    model = _dense()
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=2, batch_size=8, verbose=0, shuffle=False, guard=True, find_lr_kwargs=FEW_STEPS
    )
    cut = len(x) - round(0.2 * len(x))
    schedule = history.schedule
    assert schedule.total_steps == 2 * math.ceil(len(x) / 8)  # the run on all of x sizes the cycle
    for name, rate, momentum in (
        ("onecycle", schedule, schedule.momentum(*onecycle.schedules.CYCLE_MOMENTUM)),
        ("constant", None, None),
    ):
        twin = _dense()
        if rate is not None:
            onecycle.install_schedule(twin, rate, momentum)
        twin.fit(x[:cut], y[:cut], epochs=2, batch_size=8, verbose=0, shuffle=False)
        loss = twin.evaluate(x[cut:], y[cut:], verbose=0)
        assert history.guard[f"{name}_loss"] == pytest.approx(loss, rel=1e-5), name


def test_guard_ranks_a_candidate_whose_metric_is_not_a_number_last(tiny_classifier, suggests):
    suggests(0.3)
    model, x, y = tiny_classifier()
    model.compile(
        onecycle.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    scores = iter([{"loss": 0.5, "accuracy": float("nan")}, {"loss": 0.6, "accuracy": 0.4}])
    evaluate = model.evaluate
    model.evaluate = lambda *a, **k: next(scores) if k.get("return_dict") else evaluate(*a, **k)
    with pytest.warns(UserWarning, match="held constant"):
        history = onecycle.fit_one_cycle(
            model, x, y, epochs=1, batch_size=16, verbose=0, guard=True, find_lr_kwargs=FEW_STEPS
        )
    assert history.guard["chose"] == "constant" and history.guard["onecycle_accuracy"] == -float("inf")


@pytest.mark.backend_independent
def test_the_guard_stays_off_with_several_replicas():
    from types import SimpleNamespace

    from onecycle.fit import _distributed

    def model(replicas):
        return SimpleNamespace(distribute_strategy=SimpleNamespace(num_replicas_in_sync=replicas))

    assert _distributed(model(2)) and not _distributed(model(1)) and not _distributed(SimpleNamespace())
    assert not _distributed(SimpleNamespace(distribute_strategy=SimpleNamespace()))  # one replica unless told


@pytest.mark.parametrize("verbose", [None, "auto"])
def test_without_verbose_or_at_auto_fit_shows_its_progress(tiny_classifier, capsys, verbose):
    """fit's own default ("auto") shows its progress; the range test keeps its own verbosity."""
    model, x, y = tiny_classifier()
    given = {} if verbose is None else {"verbose": verbose}
    history = onecycle.fit_one_cycle(
        model, x, y, epochs=1, batch_size=16, guard=False, find_lr_kwargs={"num_steps": 5}, **given
    )
    out = capsys.readouterr().out
    assert history.lr_finder is not None and "5/5" in out and "6/6" in out  # range test, then fit


def test_a_model_compiled_at_rate_zero_takes_the_given_peak(tiny_classifier):
    """One optimizer: its compiled rate plays no part in the peak, whatever it is (here 0)."""
    model, x, y = tiny_classifier(onecycle.optimizers.SGD(0.0, momentum=0.9))
    history = onecycle.fit_one_cycle(model, x, y, epochs=1, batch_size=16, max_lr=0.1, verbose=0)
    assert history.schedule.max_lr == 0.1 and history.history["learning_rate"][-1] > 0
