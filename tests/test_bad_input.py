"""Every public function with bad values: a ValueError that names the argument and the value received,
raised before any training step (on every backend)."""

import json

import keras
import numpy as np
import pytest

import onecycle
from onecycle import (
    LRFinderResult,
    OneCycle,
    Piecewise,
    ScheduleLogger,
    find_lr,
    fit_one_cycle,
    install_schedule,
    suggest,
)
from onecycle.optimizers import SGD, Adam, AdamW
from onecycle.plotting import plot_schedule

NAN, INF = float("nan"), float("inf")
X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
Y = np.arange(32) % 3
CURVE = ([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0])


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    return model


class _NoBatches(keras.utils.PyDataset):
    def __len__(self):
        return 0

    def __getitem__(self, index):
        raise IndexError(index)


def _finder(**kwargs):
    kwargs = {"num_steps": 5, "verbose": 0, **kwargs}
    return find_lr(_model(), kwargs.pop("x", X), kwargs.pop("y", Y), **kwargs)


def _fit(**kwargs):
    kwargs = {"epochs": 1, "max_lr": 0.1, "verbose": 0, **kwargs}
    return fit_one_cycle(_model(), kwargs.pop("x", X), kwargs.pop("y", Y), **kwargs)


CASES = {
    # schedules
    "OneCycle max_lr text": (lambda: OneCycle("a", 10), "max_lr='a'"),
    "OneCycle max_lr None": (lambda: OneCycle(None, 10), "max_lr=None"),
    "OneCycle max_lr NaN": (lambda: OneCycle(NAN, 10), "max_lr=nan"),
    "OneCycle max_lr inf": (lambda: OneCycle(INF, 10), "max_lr=inf"),
    "OneCycle max_lr negative": (lambda: OneCycle(-0.1, 10), "max_lr=-0.1"),
    "OneCycle max_lr bool": (lambda: OneCycle(True, 10), "max_lr=True"),
    "OneCycle total_steps 0": (lambda: OneCycle(0.1, 0), "total_steps=0"),
    "OneCycle total_steps negative": (lambda: OneCycle(0.1, -5), "total_steps=-5"),
    "OneCycle total_steps float": (lambda: OneCycle(0.1, 1.5), "total_steps=1.5"),
    "OneCycle total_steps text": (lambda: OneCycle(0.1, "10"), "total_steps='10'"),
    "OneCycle total_steps NaN": (lambda: OneCycle(0.1, NAN), "total_steps=nan"),
    "OneCycle start_lr above max": (lambda: OneCycle(0.1, 10, start_lr=1.0), "start_lr=1.0"),
    "OneCycle final_lr above start": (lambda: OneCycle(0.1, 10, final_lr=0.5), "final_lr=0.5"),
    "OneCycle warmup 0": (lambda: OneCycle(0.1, 10, warmup_fraction=0), "warmup_fraction=0"),
    "OneCycle warmup NaN": (lambda: OneCycle(0.1, 10, warmup_fraction=NAN), "warmup_fraction=nan"),
    "OneCycle fractions over 1": (
        lambda: OneCycle(0.1, 10, warmup_fraction=0.6, annihilation_fraction=0.5),
        "annihilation_fraction=0.5",
    ),
    "OneCycle shape": (lambda: OneCycle(0.1, 10, shape="square"), "shape='square'"),
    "momentum NaN": (lambda: OneCycle(0.1, 10).momentum(NAN, 0.85), "high=nan"),
    "momentum 1.5": (lambda: OneCycle(0.1, 10).momentum(1.5, 0.85), "high=1.5"),
    "momentum low above high": (lambda: OneCycle(0.1, 10).momentum(0.85, 0.95), "low=0.95"),
    "shifted negative": (lambda: OneCycle(0.1, 10).shifted(-1), "offset=-1"),
    "shifted float": (lambda: OneCycle(0.1, 10).shifted(1.5), "offset=1.5"),
    "evaluate NaN": (lambda: OneCycle(0.1, 10).evaluate([NAN]), "steps"),
    "evaluate text": (lambda: OneCycle(0.1, 10).evaluate("a"), "steps='a'"),
    "Piecewise lengths": (lambda: Piecewise([5], [1, 2, 3], ["linear"]), "values=[1, 2, 3]"),
    "Piecewise negative value": (lambda: Piecewise([5], [1, -2], ["linear"]), "values=-2"),
    "Piecewise empty": (lambda: Piecewise([], [], []), "boundaries=[]"),
    "Piecewise NaN boundary": (lambda: Piecewise([NAN], [1, 2], ["linear"]), "boundaries=nan"),
    "Piecewise exponential to 0": (lambda: Piecewise([5], [1, 0], ["exponential"]), "values=[1.0, 0.0]"),
    "like_torch total_steps 0": (lambda: OneCycle.like_torch(0.1, 0), "total_steps=0"),
    "like_torch pct_start NaN": (lambda: OneCycle.like_torch(0.1, 10, pct_start=NAN), "pct_start=nan"),
    "like_torch div_factor 0": (lambda: OneCycle.like_torch(0.1, 10, div_factor=0), "div_factor=0"),
    "like_torch anneal_strategy": (
        lambda: OneCycle.like_torch(0.1, 10, anneal_strategy="step"),
        "anneal_strategy='step'",
    ),
    "like_fastai div_final negative": (lambda: OneCycle.like_fastai(0.1, 10, div_final=-1), "div_final=-1"),
    # optimizers
    "SGD momentum NaN": (lambda: SGD(0.1, momentum=NAN), "momentum=nan"),
    "SGD momentum 1": (lambda: SGD(0.1, momentum=1.0), "momentum=1.0"),
    "SGD learning_rate NaN": (lambda: SGD(NAN), "learning_rate=nan"),
    "SGD learning_rate text": (lambda: SGD("fast"), "learning_rate='fast'"),
    "Adam beta_1 1": (lambda: Adam(beta_1=1.0), "beta_1=1.0"),
    "Adam learning_rate inf": (lambda: Adam(INF), "learning_rate=inf"),
    "AdamW weight_decay NaN": (lambda: AdamW(weight_decay=NAN), "weight_decay=nan"),
    "AdamW weight_decay None": (lambda: AdamW(weight_decay=None), "weight_decay=None"),
    # find_lr
    "find_lr start_lr equals end_lr": (lambda: _finder(start_lr=0.1, end_lr=0.1), "start_lr=0.1, end_lr=0.1"),
    "find_lr model None": (lambda: find_lr(None, X, Y), "model=None"),
    "find_lr uncompiled": (
        lambda: find_lr(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), X, Y),
        "uncompiled",
    ),
    "find_lr batch_size 0": (lambda: _finder(batch_size=0), "batch_size=0"),
    "find_lr batch_size text": (lambda: _finder(batch_size="32"), "batch_size='32'"),
    "find_lr batch_size NaN": (lambda: _finder(batch_size=NAN), "batch_size=nan"),
    "find_lr start_lr NaN": (lambda: _finder(start_lr=NAN), "start_lr=nan"),
    "find_lr end_lr inf": (lambda: _finder(end_lr=INF), "end_lr=inf"),
    "find_lr start above end": (lambda: _finder(start_lr=1.0, end_lr=0.1), "start_lr=1.0"),
    "find_lr num_steps 1": (lambda: _finder(num_steps=1), "num_steps=1"),
    "find_lr num_steps negative": (lambda: find_lr(_model(), X, Y, num_steps=-3), "num_steps=-3"),
    "find_lr mode": (lambda: _finder(mode="cubic"), "mode='cubic'"),
    "find_lr smoothing 1": (lambda: _finder(smoothing=1.0), "smoothing=1.0"),
    "find_lr divergence_threshold NaN": (
        lambda: _finder(divergence_threshold=NAN),
        "divergence_threshold=nan",
    ),
    "find_lr verbose text": (lambda: find_lr(_model(), X, Y, verbose="loud"), "verbose='loud'"),
    "find_lr seed text": (lambda: _finder(seed="a"), "seed='a'"),
    "find_lr empty x": (lambda: _finder(x=X[:0], y=Y[:0]), "x with shape (0, 4)"),
    "find_lr y shorter than x": (lambda: _finder(y=Y[:10]), "10 in y, 32 in x"),
    "find_lr sample_weight shorter": (lambda: _finder(sample_weight=np.ones(5)), "5 in sample_weight"),
    "find_lr labels above classes": (lambda: _finder(y=Y + 7), "labels from 7 to 9"),
    "find_lr negative labels": (lambda: _finder(y=Y - 1), "labels from -1 to 1"),
    "find_lr NaN in x": (lambda: _finder(x=np.where(X > 1, NAN, X)), "NaN or infinite"),
    "find_lr inf in x": (lambda: _finder(x=np.full_like(X, INF)), "x with 128 NaN or infinite"),
    "find_lr x of the wrong shape": (lambda: _finder(x=X[:, :3]), "x with shape (32, 3)"),
    "find_lr validation_data of the wrong shape": (
        lambda: _finder(validation_data=(X[:, :2], Y)),
        "validation_data[0] with shape (32, 2)",
    ),
    "find_lr validation labels out of range": (
        lambda: _finder(validation_data=(X, Y + 3)),
        "validation_data[1]",
    ),
    # fit_one_cycle and install_schedule
    "fit epochs 0": (lambda: _fit(epochs=0), "epochs=0"),
    "fit epochs float": (lambda: _fit(epochs=1.5), "epochs=1.5"),
    "fit batch_size negative": (lambda: _fit(batch_size=-32), "batch_size=-32"),
    "fit max_lr NaN": (lambda: _fit(max_lr=NAN), "max_lr=nan"),
    "fit max_lr 0": (lambda: _fit(max_lr=0), "max_lr=0"),
    "fit cycle_momentum NaN": (lambda: _fit(cycle_momentum=(NAN, 0.85)), "high=nan"),
    "fit cycle_momentum text": (lambda: _fit(cycle_momentum="high"), "cycle_momentum='high'"),
    "fit cycle_momentum triple": (
        lambda: _fit(cycle_momentum=(0.9, 0.8, 0.7)),
        "cycle_momentum=(0.9, 0.8, 0.7)",
    ),
    "fit suggestion": (lambda: _fit(max_lr=None, suggestion="best"), "suggestion='best'"),
    "fit steps_per_epoch 0": (lambda: _fit(steps_per_epoch=0), "steps_per_epoch=0"),
    "fit validation_split 1.5": (lambda: _fit(validation_split=1.5), "validation_split=1.5"),
    "fit validation_split 1": (
        lambda: _fit(validation_split=1.0),
        "in [0.0, 1.0). Received: validation_split=1.0",
    ),
    "fit labels out of range": (lambda: _fit(y=Y + 7), "labels from 7 to 9"),
    "fit validation_split leaves nothing": (
        lambda: _fit(x=X[:3], y=Y[:3], max_lr=None, validation_split=0.9),
        "x with 3 samples, validation_split=0.9",
    ),
    "fit batches unknown": (lambda: _fit(x=((X, Y) for _ in range(3)), y=None), "steps_per_epoch=None"),
    "fit no batches": (lambda: _fit(x=_NoBatches(), y=None), "x with 0 batches"),
    "fit sample_weight count": (lambda: _fit(sample_weight=np.ones(5)), "5 in sample_weight, 32 in x"),
    "fit NaN in x": (lambda: _fit(x=np.full_like(X, NAN)), "NaN or infinite"),
    "fit NaN in validation_data": (
        lambda: _fit(validation_data=(np.full_like(X, NAN), Y)),
        "validation_data[0] with 128",
    ),
    "fit validation_data of the wrong shape": (
        lambda: _fit(validation_data=(X[:, :2], Y)),
        "validation_data[0] with shape (32, 2)",
    ),
    "fit validation labels out of range": (
        lambda: _fit(validation_data=(X, Y + 3)),
        "labels from 3 to 5",
    ),
    "install_schedule model None": (lambda: install_schedule(None, OneCycle(0.1, 10)), "model=None"),
    "install_schedule learning_rate text": (
        lambda: install_schedule(_model(), "fast"),
        "learning_rate='fast'",
    ),
    "install_schedule momentum 1.5": (lambda: install_schedule(_model(), 0.1, 1.5), "momentum=1.5"),
    # suggestions, results, plots, callbacks
    "suggest lengths differ": (lambda: suggest([1e-3, 1e-2], [1.0]), "(2,) and (1,)"),
    "suggest empty": (lambda: suggest([], []), "0 of 0"),
    "suggest all NaN": (lambda: suggest(CURVE[0], [NAN] * 3), "0 of 3"),
    "suggest method": (lambda: suggest(*CURVE, method="x"), "method='x'"),
    "suggest skip_start 1": (lambda: suggest(*CURVE, skip_start=1.0), "skip_start=1.0"),
    "suggest negative rate": (lambda: suggest([-1e-3, 1e-2, 1e-1], CURVE[1]), "-0.001"),
    "LRFinderResult lengths differ": (lambda: LRFinderResult([1e-3, 1e-2], [1.0], [1.0]), "one length"),
    "LRFinderResult suggest method": (lambda: LRFinderResult(*CURVE, CURVE[1]).suggest("x"), "method='x'"),
    "LRFinderResult plot ax": (lambda: LRFinderResult(*CURVE, CURVE[1]).plot(ax="x"), "ax='x'"),
    "ScheduleLogger per_batch": (lambda: ScheduleLogger(per_batch="yes"), "per_batch='yes'"),
    "plot_schedule total_steps 0": (lambda: plot_schedule(OneCycle(0.1, 10), 0), "total_steps=0"),
    "plot_schedule schedule text": (lambda: plot_schedule("x", 10), "schedule='x'"),
}


# Errors about no single argument say what they need in their own words.
NOT_ONE_ARGUMENT = {"Piecewise exponential to 0", "suggest empty", "suggest all NaN"}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_value_is_named(case):
    call, received = CASES[case]
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    assert received in message and "Received" in message
    assert message.startswith(("Argument `", "Arguments `")) or case in NOT_ONE_ARGUMENT, message


@pytest.mark.parametrize(
    "content, error",
    [
        ('{"lrs": [1', "JSONDecodeError"),
        ('{"other": 1}', "KeyError"),
        ("[]", "TypeError"),
        ("", "JSONDecodeError"),
    ],
)
def test_damaged_finder_file_is_named(tmp_path, content, error):
    path = tmp_path / "finder.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"finder.json does not hold a saved LRFinderResult \({error}: "):
        LRFinderResult.load(path)


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    """Results are written to a temporary file and renamed: a failure half-way leaves nothing."""
    result = LRFinderResult(*CURVE, CURVE[1])

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json, "dump", fail)
    with pytest.raises(OSError):
        result.save(tmp_path / "finder.json")
    assert list(tmp_path.iterdir()) == []


def test_checks_pass_valid_inputs_and_other_losses():
    """The data checks leave valid inputs alone: labels of a model with another loss, masked labels."""
    model = _model()
    model.compile(SGD(0.01), keras.losses.SparseCategoricalCrossentropy(ignore_class=-1))
    probabilities = keras.ops.convert_to_numpy(model(X))
    masked = np.where(Y == 0, -1, Y)
    result = onecycle.find_lr(model, X, masked, batch_size=32, num_steps=5, end_lr=1e-6, verbose=0)
    kept = masked != -1  # one batch of all 32 rows: the loss of the labels that are not masked
    expected = -np.log(probabilities[kept, masked[kept]]).mean()
    assert result.losses[0] == pytest.approx(expected, rel=1e-4)
    regression = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    regression.compile(SGD(0.01), "mse")
    target = (Y + 7).astype("float32")
    predictions = keras.ops.convert_to_numpy(regression(X))[:, 0]
    result = onecycle.find_lr(regression, X, target, batch_size=32, num_steps=5, end_lr=1e-6, verbose=0)
    assert result.losses[0] == pytest.approx(np.mean((predictions - target) ** 2), rel=1e-4)
