"""NumPy-only references: suggestion rules, schedule shapes, plots and result objects checked
against computations written out here (no Keras backend op: run once)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import onecycle


@pytest.mark.backend_independent
def test_weight_decay_pick_is_the_curve_with_the_lowest_smoothed_loss():
    lrs = np.geomspace(1e-4, 1.0, 5)
    curves = [
        onecycle.LRFinderResult(lrs, [2.0, 1.5, 1.2, 1.1, 3.0], [2.0, 1.5, 1.2, 1.1, 3.0]),
        onecycle.LRFinderResult(lrs, [2.0, 1.0, 0.7, 0.9, 3.0], [2.0, 1.0, 0.7, 0.9, 3.0]),  # lowest: 0.7
        onecycle.LRFinderResult(lrs, [2.0, 0.8, np.nan, np.nan, np.nan], [2.0, 0.8, np.nan, np.nan, np.nan]),
    ]
    result = onecycle.WDFinderResult([0.0, 0.01, 0.1], curves)
    assert result.best_index() == 1
    assert result.suggest("minimum") == (pytest.approx(lrs[2] / 10), 0.01)  # a tenth of the lowest's rate
    # the default is the range test's
    assert result.suggest() == (curves[1].suggest(onecycle.DEFAULT_SUGGESTION), 0.01)


@pytest.mark.backend_independent
def test_a_shifted_schedule_is_the_same_curve_started_later():
    schedule = onecycle.OneCycle(1.0, 10, warmup_fraction=0.3, annihilation_fraction=0.2, shape="cosine")
    assert schedule.shifted(0) is schedule
    one = schedule.shifted(1)
    assert one.name == schedule.name and float(one.evaluate(0)) == pytest.approx(float(schedule.evaluate(0)))
    np.testing.assert_allclose(one.evaluate(np.arange(1, 12)), schedule.evaluate(np.arange(11)), rtol=1e-12)
    shifted = schedule.shifted(5)
    np.testing.assert_allclose(shifted.evaluate(np.arange(5)), [schedule.evaluate(0)] * 5)
    np.testing.assert_allclose(
        shifted.evaluate(np.arange(5, 20)), schedule.evaluate(np.arange(15)), rtol=1e-12
    )
    np.testing.assert_allclose(
        shifted.momentum(0.9, 0.8).evaluate(np.arange(5, 20)),
        schedule.momentum(0.9, 0.8).evaluate(np.arange(15)),
        rtol=1e-12,
    )


def _valley_reference(losses):
    """fastai's valley rule, written out: the longest strictly falling subsequence (the earliest
    end on a tie), the point a third plus a sixth of the way along it (never before the first)."""
    length = [1] * len(losses)
    end = 0
    for i in range(len(losses)):
        for j in range(i):
            if losses[j] > losses[i]:
                length[i] = max(length[i], length[j] + 1)
        if length[i] > length[end]:
            end = i
    start = end - length[end]
    third = (end - start) / 3
    return max(0, start + int(third) + int(third / 2))


def _steepest_reference(losses, step):
    """The most negative slope, central differences (one-sided at the ends) on a uniform log grid,
    over the points up to the lowest loss."""
    end = int(np.argmin(losses)) + 1
    if end < 2:
        return 0
    part = losses[:end]
    slopes = [(part[1] - part[0]) / step]
    slopes += [(part[i + 1] - part[i - 1]) / (2 * step) for i in range(1, end - 1)]
    slopes.append((part[-1] - part[-2]) / step)
    return int(np.argmin(slopes))


@pytest.mark.backend_independent
@given(st.lists(st.integers(0, 12).map(float), min_size=2, max_size=60))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_suggestion_rules_match_references(losses):
    from onecycle import suggestions

    losses = np.array(losses)
    lrs = np.geomspace(1e-5, 1.0, len(losses))
    lr, index = suggestions.valley(lrs, losses)
    assert index == _valley_reference(list(losses)) and lr == lrs[index]
    lr, index = suggestions.steepest(lrs, losses)
    assert index == _steepest_reference(losses, np.log10(lrs[1] / lrs[0])) and lr == lrs[index]
    lr, index = suggestions.minimum(lrs, losses)
    assert (
        losses[index] == losses.min() and index == list(losses).index(losses.min()) and lr == lrs[index] / 10
    )


def _curve():
    lrs = np.geomspace(1e-4, 1.0, 9)
    losses = np.array([2.0, 1.9, 1.6, 1.2, 0.9, 0.8, 1.0, 2.5, np.nan])
    return onecycle.LRFinderResult(lrs, losses + 0.05, losses)


@pytest.mark.backend_independent
def test_plots_draw_the_curves_and_mark_the_suggestion():
    import matplotlib

    matplotlib.use("Agg")
    curve = _curve()
    ax = onecycle.plot_lr_finder(curve, method="minimum")
    raw, smooth, marker, vline = ax.lines
    np.testing.assert_array_equal(smooth.get_xdata(), curve.lrs[:8])
    np.testing.assert_array_equal(smooth.get_ydata(), curve.smoothed_losses[:8])
    np.testing.assert_array_equal(raw.get_ydata(), curve.losses[:8])
    # "minimum": a tenth of the rate at the lowest smoothed loss (index 5), marked there
    assert marker.get_xdata()[0] == curve.lrs[5] and marker.get_ydata()[0] == 0.8
    assert vline.get_xdata()[0] == pytest.approx(curve.lrs[5] / 10)
    other = onecycle.LRFinderResult(curve.lrs, curve.losses, curve.smoothed_losses * 0.5)
    ax = onecycle.plot_wd_finder(onecycle.WDFinderResult([0.0, 0.1], [curve, other]))
    first, _, second, _ = ax.lines
    np.testing.assert_array_equal(second.get_ydata(), curve.smoothed_losses[:8] * 0.5)
    assert second.get_linewidth() > first.get_linewidth()  # the lowest loss drawn thicker


@pytest.mark.backend_independent
def test_suggest_skips_the_start_of_the_curve():
    lrs = np.geomspace(1e-6, 1.0, 20)
    losses = np.linspace(2.0, 1.0, 20)
    losses[0] = 0.1  # a spurious low at the smallest rate
    assert onecycle.suggest(lrs, losses, "minimum", skip_start=0.0) == (pytest.approx(lrs[0] / 10), 0)
    assert onecycle.suggest(lrs, losses, "minimum") == (pytest.approx(lrs[19] / 10), 19)  # skips 2 of 20
    losses[2] = 0.1
    assert onecycle.suggest(lrs, losses, "minimum", skip_start=0.1).index == 2
    assert onecycle.suggest(lrs, losses, "minimum", skip_start=0.15).index == 19  # skips 3 of 20


@pytest.mark.backend_independent
def test_steepest_measures_the_slope_against_log_rate_not_the_index():
    # rates unevenly spaced in log: the last drop (0.9 -> 0.5) is the steepest per decade, though
    # per point the first drops are as large
    lrs = np.array([1e-3, 1e-2, 1e-1, 0.2, 0.3])
    losses = np.array([3.0, 2.0, 1.0, 0.9, 0.5])
    from onecycle import suggestions

    assert suggestions.steepest(lrs, losses).index >= 3


@pytest.mark.backend_independent
def test_suggest_edges_of_the_finite_points_and_of_skip_start():
    lrs = np.geomspace(1e-3, 1.0, 4)
    with pytest.raises(ValueError, match="rates > 0"):
        onecycle.suggest([0.0, *lrs[1:]], [1.0, 0.9, 0.8, 0.7])
    two = onecycle.suggest(lrs, [np.nan, 1.0, 0.5, np.nan], "minimum")  # exactly two finite points are enough
    assert two.index == 2 and two.lr == pytest.approx(lrs[2] / 10)
    # skip only while at least two points remain: 3 * (1 - 0.5) < 2 keeps all three
    assert onecycle.suggest(lrs[:3], [0.5, 1.0, 2.0], "minimum", skip_start=0.5).index == 0
    # 4 * (1 - 0.5) == 2: the first two are skipped
    assert onecycle.suggest(lrs, [0.1, 0.2, 1.0, 2.0], "minimum", skip_start=0.5).index == 2
    assert onecycle.OneCycle(1.0, 10).name == "OneCycle"


@pytest.mark.backend_independent
def test_centered_median_has_no_lag_and_ignores_non_finite_points():
    from onecycle import suggestions

    losses = np.array([5.0, 1.0, 1.0, 9.0, 1.0, np.nan, 1.0])
    np.testing.assert_array_equal(suggestions.centered_median(losses, half_width=1), [3, 1, 1, 1, 5, 1, 1])
    step = np.r_[np.ones(10), np.full(10, 3.0)]
    smooth = suggestions.centered_median(step, half_width=3)
    assert smooth[9] == 1.0 and smooth[10] == 3.0  # the jump stays where it is


@pytest.mark.backend_independent
def test_a_point_with_no_finite_loss_in_its_window_is_nan():
    from onecycle import suggestions

    out = suggestions.centered_median([np.nan, np.inf, 1.0, 2.0], half_width=0)
    assert out.dtype == float and np.isnan(out[:2]).all() and out[2:].tolist() == [1.0, 2.0]


@pytest.mark.backend_independent
def test_edge_reads_its_start_from_the_first_tenth_and_climbs_half_way_at_any_scale():
    from onecycle import suggestions

    lrs = np.geomspace(1e-4, 10.0, 200)
    # the first tenth (20 losses): nine at 3.0 and eleven at 5.0, whose median, the start, is 5.0;
    # the valley is 1.0, so half-way back is 3.0, reached 40 steps into a climb of 0.05 a step
    losses = np.r_[
        np.full(9, 3.0),
        np.full(11, 5.0),
        np.linspace(5.0, 1.0, 20),
        np.full(60, 1.0),
        1.0 + 0.05 * np.arange(1, 101),
    ]
    assert suggestions.edge(lrs, losses).index == 139
    # under 20 losses the start is the first loss alone: 2.0, not the median of 2.0 and 4.0
    short = np.r_[2.0, 4.0, np.linspace(3.0, 1.5, 4), np.full(5, 1.0), 1.0 + 0.4 * np.arange(1, 9)]
    assert suggestions.edge(np.geomspace(1e-4, 10.0, 19), short).index == 4


@pytest.mark.backend_independent
def test_edge_is_a_tenth_of_the_rate_where_the_curve_climbs_half_way_back():
    from onecycle import suggestions

    lrs = np.geomspace(1e-4, 10.0, 100)
    # start at 2.0, a valley at 1.0 from index 40 to 59, then a climb of 0.1 a step
    losses = np.r_[
        np.full(30, 2.0), np.linspace(2.0, 1.0, 10), np.full(20, 1.0), 1.0 + 0.1 * np.arange(1, 41)
    ]
    # half-way back is 1.5; at index 64 the window 54..74 holds six 1.0s and 1.1 ... 2.5, whose
    # median (the 11th of 21) is 1.5
    found = suggestions.edge(lrs, losses)
    assert found.index == 64 and found.lr == pytest.approx(lrs[64] / 10)
    flat = np.r_[np.linspace(2.0, 1.0, 50), np.full(50, 1.05)]  # never climbs back: the last rate
    assert suggestions.edge(lrs, flat) == (pytest.approx(1.0), 99)
    # the raw losses are what it reads: LRFinderResult passes them for "edge"
    result = onecycle.LRFinderResult(lrs, losses, np.full(100, 7.0))
    assert result.suggestion("edge") == found
    assert onecycle.suggest(lrs, losses, "edge") == found  # skip_start does not apply


@pytest.mark.backend_independent
def test_edge_climb_and_cap_set_the_level_the_running_median_must_reach():
    from onecycle import suggestions

    lrs = np.geomspace(1e-4, 10.0, 100)
    # start 4.0, lowest 2.0 (not 1.0, so that a product and a quotient differ)
    losses = (
        2.0
        * np.r_[np.full(30, 2.0), np.linspace(2.0, 1.0, 10), np.full(20, 1.0), 1.0 + 0.1 * np.arange(1, 41)]
    )
    # past index 60 the running median at index i is 2.2 + 0.2 (i - 60): 2.4 at 61, 2.6 at 62
    assert suggestions.edge(lrs, losses, climb=0.25).index == 62  # a quarter of the way back: 2.5
    assert suggestions.edge(lrs, losses, cap=1.15).index == 61  # 1.15 times the lowest value (2.3) first
    assert suggestions.edge(lrs, losses, cap=3.0).index == 64  # half-way back (3.0) comes before 6.0
    assert suggestions.edge(lrs, losses, climb=0.5, cap=None) == suggestions.edge(lrs, losses)
