"""The run forecaster: when a run should reach its target, where it levels off, or "not enough data"."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.forecast import MIN_POINTS, Forecast, ForecastKind, forecast
from bot.core.forecast_text import NOT_ENOUGH_DATA, compact_step, describe
from bot.core.targets import Rule
from integrations.base import MetricPoint

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # a Thursday; 09:00 in Berlin
SECONDS_PER_STEP = 0.5
ACC = Rule("val_acc", ">=", 0.9)


def exponential(s):
    return 0.92 - 0.82 * np.exp(-np.asarray(s, dtype=float) / 25_000)


def power_law(s):
    return 0.95 - 0.85 * ((np.asarray(s, dtype=float) + 2000) / 2000) ** -0.6


def falling_loss(s):
    return 0.25 + 2.0 * ((np.asarray(s, dtype=float) + 1000) / 1000) ** -0.5


def history(curve, last=50_000, n=100, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.linspace(last / n, last, n).astype(int)
    values = curve(steps) + rng.normal(0, noise, n)
    return [MetricPoint(int(s), float(v), T0 + timedelta(seconds=float(s) * SECONDS_PER_STEP))
            for s, v in zip(steps, values, strict=True)]


def crossing(curve, target, op=">="):
    steps = np.arange(1, 2_000_000, 5)
    values = curve(steps)
    hit = values >= target if op == ">=" else values <= target
    return int(steps[np.argmax(hit)])


def now_of(points):
    return points[-1].at


@pytest.mark.parametrize(
    ("curve", "rule", "noise"),
    [
        (exponential, Rule("val_acc", ">=", 0.9), 0.0),
        (exponential, Rule("val_acc", ">=", 0.9), 0.005),
        (power_law, Rule("val_acc", ">=", 0.86), 0.0),
        (power_law, Rule("val_acc", ">=", 0.86), 0.005),
        (falling_loss, Rule("val_loss", "<=", 0.46), 0.0),
        (falling_loss, Rule("val_loss", "<=", 0.46), 0.01),
    ],
    ids=["exp", "exp-noisy", "power", "power-noisy", "loss", "loss-noisy"],
)
def test_a_run_on_its_way_is_expected_at_the_step_it_really_reaches_the_target(curve, rule, noise):
    points = history(curve, noise=noise)
    truth = crossing(curve, rule.threshold, rule.op)
    result = forecast(points, rule, now_of(points), total_steps=200_000)
    assert result.kind is ForecastKind.REACH, result.reason
    assert abs(result.step - truth) / truth < 0.1
    assert result.step_low * 0.999 <= truth <= result.step_high * 1.001  # noiseless: a tight range
    assert not result.confident_miss
    # time from the steps per second of the recent points
    expected_at = T0 + timedelta(seconds=truth * SECONDS_PER_STEP)
    assert abs((result.at - expected_at).total_seconds()) < 0.1 * truth * SECONDS_PER_STEP
    assert result.at_low <= result.at <= result.at_high


def test_a_curve_levelling_off_below_the_target_is_a_confident_miss():
    points = history(exponential, noise=0.005)
    result = forecast(points, Rule("val_acc", ">=", 0.95), now_of(points))
    assert result.kind is ForecastKind.PLATEAU
    assert result.confident_miss
    assert abs(result.plateau - 0.92) <= max(result.plateau_pm, 0.01)
    assert result.plateau + result.plateau_pm < 0.95


def test_a_loss_levelling_off_above_its_target_is_a_plateau_above():
    points = history(lambda s: 0.4 + 1.5 * np.exp(-np.asarray(s, float) / 10_000), noise=0.005)
    result = forecast(points, Rule("val_loss", "<=", 0.3), now_of(points))
    assert result.kind is ForecastKind.PLATEAU and result.confident_miss
    assert abs(result.plateau - 0.4) < 0.02
    text = describe(result, now_of(points), "UTC")
    assert text.startswith("projected to plateau at val_loss 0.4") and text.endswith("above the 0.30 target")


def test_a_target_reached_only_after_the_last_step_is_a_miss():
    points = history(exponential, noise=0.002)
    truth = crossing(exponential, 0.9)  # about 92k
    result = forecast(points, ACC, now_of(points), total_steps=60_000)
    assert result.kind is ForecastKind.REACH
    assert result.step > 60_000 and abs(result.step - truth) / truth < 0.1
    assert result.confident_miss
    assert describe(result, now_of(points), "UTC").startswith(
        "not expected to reach val_acc 0.90 before the run ends at step 60k")


def test_an_asymptote_near_the_target_is_not_called_a_miss():
    points = history(exponential, last=20_000, noise=0.02)  # early and noisy: the plateau is unsure
    result = forecast(points, Rule("val_acc", ">=", 0.93), now_of(points))
    assert not result.confident_miss


def test_a_few_wild_evals_do_not_move_the_projection_much():
    points = history(exponential, noise=0.005)
    clean = forecast(points, ACC, now_of(points))
    spiked = list(points)
    for i in (20, 50, 80):
        spiked[i] = replace(spiked[i], value=0.05)
    result = forecast(spiked, ACC, now_of(points))
    assert result.kind is ForecastKind.REACH
    assert abs(result.step - clean.step) / clean.step < 0.05


def test_too_few_points_is_not_enough_data():
    points = history(exponential, n=MIN_POINTS - 1)
    result = forecast(points, ACC, now_of(points))
    assert result.kind is ForecastKind.UNKNOWN
    assert result.reason == f"only {MIN_POINTS - 1} points, {MIN_POINTS} needed"
    assert describe(result, now_of(points), "UTC") == NOT_ENOUGH_DATA
    assert forecast(history(exponential, n=MIN_POINTS), ACC, T0).kind is ForecastKind.REACH


def test_no_points_is_not_enough_data():
    assert forecast([], ACC, T0).kind is ForecastKind.UNKNOWN


def test_an_integer_too_big_for_a_float_is_not_a_number():
    points = history(exponential)
    points[-1] = replace(points[-1], value=10**400)
    assert forecast(points, ACC, now_of(points)).kind is ForecastKind.UNKNOWN


def test_a_diverged_run_is_not_forecast():
    points = history(exponential)
    points[-1] = replace(points[-1], value=math.nan)
    result = forecast(points, ACC, now_of(points))
    assert result.kind is ForecastKind.UNKNOWN and "not a number" in result.reason


def test_non_finite_values_in_the_middle_are_skipped():
    points = history(exponential, noise=0.002)
    for i, bad in ((10, math.nan), (30, math.inf), (60, -math.inf)):
        points[i] = replace(points[i], value=bad)
    result = forecast(points, ACC, now_of(points))
    assert result.kind is ForecastKind.REACH
    assert abs(result.step - crossing(exponential, 0.9)) / crossing(exponential, 0.9) < 0.1


@pytest.mark.parametrize(
    "curve",
    [lambda s: np.full(len(s), 0.5), lambda s: 0.5 + 0.0 * np.asarray(s)],
    ids=["constant", "constant-float"],
)
def test_a_flat_line_is_not_enough_data(curve):
    points = history(curve)
    assert forecast(points, ACC, now_of(points)).kind is ForecastKind.UNKNOWN


def test_pure_noise_is_not_enough_data():
    points = history(lambda s: np.full(len(s), 0.5), noise=0.02)
    assert forecast(points, ACC, now_of(points)).kind is ForecastKind.UNKNOWN


def test_a_run_already_at_its_target_says_so():
    points = history(exponential, last=150_000)
    result = forecast(points, ACC, now_of(points))
    assert result.kind is ForecastKind.REACHED
    assert describe(result, T0, "UTC") == "already at the val_acc 0.90 target"


def test_same_history_same_forecast_and_order_does_not_matter():
    points = history(power_law, noise=0.01)
    rule = Rule("val_acc", ">=", 0.86)
    first = forecast(points, rule, now_of(points))
    assert forecast(list(reversed(points)), rule, now_of(points)) == first
    assert forecast(points, rule, now_of(points)) == first


def test_a_step_logged_twice_counts_once_with_its_newest_value():
    points = history(exponential, noise=0.002)
    stale = replace(points[-1], value=0.1, at=points[-1].at - timedelta(seconds=1))
    assert forecast(points + [stale], ACC, now_of(points)) == forecast(points, ACC, now_of(points))


def test_tuples_are_taken_like_metric_points():
    points = history(exponential)
    as_tuples = [(p.step, p.value, p.at) for p in points]
    assert forecast(as_tuples, ACC, now_of(points)) == forecast(points, ACC, now_of(points))


def test_the_time_is_never_before_now():
    points = history(exponential)
    later = now_of(points) + timedelta(days=30)  # the run stopped logging long ago
    result = forecast(points, ACC, later)
    assert result.at >= later


def test_points_without_time_progress_give_a_step_but_no_time():
    points = [replace(p, at=T0) for p in history(exponential)]
    result = forecast(points, ACC, T0)
    assert result.kind is ForecastKind.REACH and result.at is None
    assert "(range " in describe(result, T0, "UTC")


# --- never raises, ranges always hold the estimate -------------------------------------------

values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6))
raw_points = st.lists(
    st.tuples(st.integers(-5, 10**7), values, st.integers(0, 10**7)), max_size=60
)
rules = st.builds(Rule, st.just("m"), st.sampled_from([">=", ">", "<=", "<"]),
                  st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


def assert_consistent(result: Forecast) -> None:
    assert isinstance(result.kind, ForecastKind)
    if result.kind is ForecastKind.UNKNOWN:
        assert result.reason and result.step is None
    if result.step is not None:
        assert result.step_low <= result.step
        assert result.step_high is None or result.step <= result.step_high
    if result.at is not None:
        assert result.at_low <= result.at
        assert result.at_high is None or result.at <= result.at_high
    if result.plateau_pm is not None:
        assert result.plateau_pm >= 0
    assert describe(result, T0, "Europe/Berlin")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_points, rules, st.one_of(st.none(), st.integers(-10, 10**8)))
def test_arbitrary_input_never_raises(raw, rule, total):
    points = [(s, v, T0 + timedelta(seconds=t)) for s, v, t in raw]
    assert_consistent(forecast(points, rule, T0, total_steps=total))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    asymptote=st.floats(-100, 100),
    amplitude=st.floats(-50, 50),
    rate=st.floats(0.01, 100),
    offset=st.floats(0.0, 5.0),
    noise=st.floats(0.0, 2.0),
    shape=st.sampled_from(["exp", "power"]),
    n=st.integers(MIN_POINTS, 120),
    target=st.floats(-200, 200),
    op=st.sampled_from([">=", "<="]),
    seed=st.integers(0, 1000),
)
def test_curve_like_input_gives_ranges_that_hold_the_estimate(
    asymptote, amplitude, rate, offset, noise, shape, n, target, op, seed
):
    x = np.linspace(1 / n, 1, n)
    g = np.exp(-rate * x) if shape == "exp" else (x + offset) ** -min(rate, 5)
    y = asymptote - amplitude * g + np.random.default_rng(seed).normal(0, noise, n) * abs(amplitude)
    points = [MetricPoint(int(i * 100 + 100), float(v), T0 + timedelta(seconds=i * 30)) for i, v in enumerate(y)]
    assert_consistent(forecast(points, Rule("m", op, target), T0 + timedelta(hours=1), total_steps=n * 300))


# --- how it reads ------------------------------------------------------------------------------


def reach(**kw) -> Forecast:
    base = dict(kind=ForecastKind.REACH, rule=ACC, step=41_234, step_low=38_000, step_high=45_000,
                at=datetime(2026, 12, 3, 13, 0, tzinfo=UTC), at_low=datetime(2026, 12, 3, 11, 0, tzinfo=UTC),
                at_high=datetime(2026, 12, 3, 16, 0, tzinfo=UTC), plateau=0.93, plateau_pm=0.01)
    return Forecast(**(base | kw))


def test_reach_reads_with_step_and_time_in_the_readers_zone():
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert describe(reach(), monday, "Europe/Berlin") == \
        "expected to reach val_acc 0.90 at step ~41k, around Thu 14:00 (range 12:00-17:00)"
    assert describe(reach(), T0, "Europe/Berlin") == \
        "expected to reach val_acc 0.90 at step ~41k, around 14:00 (range 12:00-17:00)"
    assert describe(reach(), T0, "America/New_York") == \
        "expected to reach val_acc 0.90 at step ~41k, around 08:00 (range 06:00-11:00)"


def test_reach_across_midnight_names_the_day_of_each_end():
    text = describe(reach(at_high=datetime(2026, 12, 4, 9, 0, tzinfo=UTC)), T0, "UTC")
    assert text == "expected to reach val_acc 0.90 at step ~41k, around 13:00 (range 11:00-tomorrow 09:00)"


def test_an_open_range_says_it_may_never_get_there():
    text = describe(reach(step_high=None, at_high=None), T0, "UTC")
    assert text == "expected to reach val_acc 0.90 at step ~41k, around 13:00 (from 11:00; it may never get there)"


def test_without_times_the_step_range_is_shown():
    text = describe(reach(at=None, at_low=None, at_high=None), T0, "UTC")
    assert text == "expected to reach val_acc 0.90 at step ~41k (range 38k-45k)"


def test_plateau_reads_with_its_margin_below_the_target():
    result = Forecast(ForecastKind.PLATEAU, ACC, plateau=0.8712, plateau_pm=0.0132, confident_miss=True)
    assert describe(result, T0, "UTC") == "projected to plateau at val_acc 0.87 ± 0.01, below the 0.90 target"


def test_unknown_reads_not_enough_data():
    assert describe(Forecast(ForecastKind.UNKNOWN, ACC, reason="only 3 points"), T0, "UTC") == NOT_ENOUGH_DATA


@pytest.mark.parametrize(
    ("step", "text"),
    [(812, "812"), (4_000, "4k"), (4_520, "4.5k"), (41_234, "41k"), (999_400, "999k"), (1_200_000, "1.2M")],
)
def test_compact_step(step, text):
    assert compact_step(step) == text


def test_a_curve_that_changes_shape_late_is_not_enough_data():
    """A learning-rate drop at 80 % of the history: the earlier curve no longer predicts the run."""

    def lr_drop(s):
        s = np.asarray(s, dtype=float)
        return 0.8 * exponential(s) + np.where(s > 40_000, 0.15 * (1 - np.exp(-(s - 40_000) / 3000)), 0)

    points = history(lr_drop, noise=0.003)
    result = forecast(points, ACC, now_of(points))
    assert result.kind is ForecastKind.UNKNOWN and "shape changes" in result.reason


def test_a_plateau_unsure_by_more_than_the_run_has_moved_is_not_enough_data():
    points = history(exponential, last=12_000, n=40, noise=0.08, seed=1)  # early, and noise as big as the trend
    result = forecast(points, Rule("val_acc", ">=", 0.9), now_of(points))
    assert result.kind is ForecastKind.UNKNOWN
