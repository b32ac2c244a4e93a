import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.targets import Crossing, Rule, TargetProgress, best_so_far, evaluate, nonfinite
from integrations.base import MetricPoint

CURRENT_TIME = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
NAN, INF = math.nan, math.inf


def pts(values, start_step=1):
    return [
        MetricPoint(step=start_step + i, value=v, at=CURRENT_TIME + timedelta(minutes=i))
        for i, v in enumerate(values)
    ]


def crossed_values(rule, values):
    _, found = evaluate(rule, TargetProgress(), pts(values))
    return [c.value for c in found]


def test_issue_example_alerts_once_at_093():
    rule = Rule("val_acc", ">=", 0.9, patience=2)
    progress, found = evaluate(rule, TargetProgress(), pts([0.85, 0.91, 0.88, 0.92, 0.93]))
    assert found == [Crossing(number=1, step=5, value=0.93, at=CURRENT_TIME + timedelta(minutes=4))]
    assert progress == TargetProgress(
        streak=0, armed=False, crossings=1, last_step=5, best=0.93, last_at=CURRENT_TIME + timedelta(minutes=4)
    )


@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [
        # patience
        (Rule("acc", ">=", 0.9), [0.8, 0.9, 0.95], [0.9]),
        (Rule("acc", ">=", 0.9, patience=3), [0.91, 0.92, 0.8, 0.91, 0.92, 0.93], [0.93]),
        (Rule("acc", ">=", 0.9, patience=3), [0.91, 0.92], []),
        # > vs >=
        (Rule("acc", ">", 0.9), [0.9, 0.9, 0.900001], [0.900001]),
        (Rule("loss", "<", 0.5), [0.5, 0.5, 0.4], [0.4]),
        (Rule("loss", "<=", 0.5), [0.6, 0.5], [0.5]),
        # minimize
        (Rule("loss", "<=", 0.2, patience=2), [1.0, 0.5, 0.19, 0.18, 0.17], [0.18]),
        # hovering around the threshold does not re-fire (default margin 1%: re-arm below 0.891)
        (Rule("acc", ">=", 0.9), [0.91, 0.895, 0.91, 0.899, 0.92, 0.892], [0.91]),
        # going back past the margin re-arms, the next hold fires again
        (Rule("acc", ">=", 0.9), [0.91, 0.85, 0.91, 0.95], [0.91, 0.91]),
        (Rule("acc", ">=", 0.9), [0.91, 0.891, 0.91], [0.91]),  # 0.891 is exactly the level
        (Rule("acc", ">", 0.9), [0.91, 0.891, 0.91], [0.91, 0.91]),  # ">" re-arms at <= level
        (Rule("loss", "<=", 0.2), [0.1, 0.201, 0.1, 0.3, 0.15], [0.1, 0.15]),
        (Rule("loss", "<", 0.2), [0.1, 0.202, 0.1], [0.1, 0.1]),  # "<" re-arms at >= level
        # explicit hysteresis
        (Rule("acc", ">=", 0.9, hysteresis=0.1), [0.95, 0.85, 0.95, 0.79, 0.95], [0.95, 0.95]),
        (Rule("acc", ">=", 0.9, hysteresis=0.0), [0.95, 0.89, 0.95], [0.95, 0.95]),
        # a re-armed rule needs full patience again
        (Rule("acc", ">=", 0.9, patience=2), [0.91, 0.92, 0.5, 0.93, 0.5, 0.94, 0.95], [0.92, 0.95]),
        # NaN/inf never count and reset the streak
        (Rule("acc", ">=", 0.9, patience=2), [0.91, NAN, 0.92, INF, 0.93, 0.94], [0.94]),
        (Rule("loss", "<=", 0.2), [NAN, -INF, INF], []),
        (Rule("acc", ">=", 0.9), [INF], []),
        # NaN does not re-arm
        (Rule("acc", ">=", 0.9), [0.95, NAN, 0.95], [0.95]),
        # zero threshold: margin 1e-9
        (Rule("delta", "<=", 0.0), [0.0, 0.5, -1.0], [0.0, -1.0]),
        (Rule("delta", "<=", 0.0), [0.0, 1e-10, -1.0], [0.0]),
        # negative threshold: margin from |threshold|
        (Rule("reward", ">=", -100.0), [-99.0, -100.5, -99.0, -102.0, -99.0], [-99.0, -99.0]),
        # empty
        (Rule("acc", ">=", 0.9), [], []),
    ],
)
def test_crossings(rule, values, expected):
    assert crossed_values(rule, values) == expected


def test_numbers_count_up_and_key_dedupe():
    rule = Rule("acc", ">=", 0.9)
    progress, found = evaluate(rule, TargetProgress(), pts([0.95, 0.1, 0.95, 0.1, 0.95]))
    assert [c.number for c in found] == [1, 2, 3]
    assert progress.crossings == 3
    progress2, found2 = evaluate(rule, progress, pts([0.1, 0.95], start_step=6))
    assert [c.number for c in found2] == [4]
    assert progress2.crossings == 4


def test_metric_that_never_appears_leaves_progress_unchanged():
    progress = TargetProgress(streak=1, armed=True, crossings=2, last_step=7, best=0.5)
    assert evaluate(Rule("acc", ">=", 0.9), progress, []) == (progress, [])


def test_old_and_repeated_steps_are_not_new():
    rule = Rule("acc", ">=", 0.9, patience=2)
    progress, found = evaluate(rule, TargetProgress(), pts([0.95]))
    assert (progress.streak, progress.last_step, found) == (1, 1, [])
    # a tracker re-sends step 1 (inclusive start_step): it must not count twice
    progress, found = evaluate(rule, progress, pts([0.95]))
    assert (progress.streak, progress.last_step, found) == (1, 1, [])
    progress, found = evaluate(rule, progress, pts([0.95, 0.96], start_step=1))
    assert [c.step for c in found] == [2]


def test_points_are_sorted_by_step_and_duplicate_steps_keep_the_first():
    rule = Rule("acc", ">=", 0.9)
    at = CURRENT_TIME
    points = [MetricPoint(3, 0.95, at), MetricPoint(1, 0.5, at), MetricPoint(3, 0.1, at)]
    progress, found = evaluate(rule, TargetProgress(), points)
    assert [(c.step, c.value) for c in found] == [(3, 0.95)]
    assert progress.last_step == 3


def test_values_logged_again_at_the_same_step_are_new_when_later():
    # mlflow.log_metric("acc", v) without a step logs every value at step 0, told apart by time.
    rule = Rule("acc", ">=", 0.9, patience=2)
    at = [CURRENT_TIME + timedelta(seconds=i) for i in range(4)]
    progress, found = evaluate(rule, TargetProgress(), [MetricPoint(0, 0.1, at[0])])
    assert found == [] and (progress.last_step, progress.last_at) == (0, at[0])
    # a re-fetch returns the same point, then later ones at the same step
    progress, found = evaluate(rule, progress, [MetricPoint(0, 0.1, at[0]), MetricPoint(0, 0.91, at[1])])
    assert found == [] and progress.streak == 1
    progress, found = evaluate(rule, progress, [MetricPoint(0, 0.95, at[2])])
    assert [(c.step, c.value) for c in found] == [(0, 0.95)]
    # progress stored before last_at was kept: only later steps are new, as before
    old = TargetProgress(streak=1, last_step=0, best=0.91)
    assert evaluate(rule, old, [MetricPoint(0, 0.95, at[3])]) == (old, [])


def test_best_tracks_direction_and_ignores_nonfinite():
    progress, _ = evaluate(Rule("loss", "<=", 0.0), TargetProgress(), pts([3.0, NAN, 1.0, -INF, 2.0]))
    assert progress.best == 1.0
    progress, _ = evaluate(Rule("acc", ">", 1.0), TargetProgress(), pts([0.3, INF, 0.7, 0.5]))
    assert progress.best == 0.7


def test_best_so_far():
    assert best_so_far(Rule("acc", ">=", 0.9), [0.1, NAN, 0.8, 0.5]) == 0.8
    assert best_so_far(Rule("loss", "<", 0.9), [0.4, 0.2, INF, 0.3]) == 0.2
    assert best_so_far(Rule("loss", "<", 0.9), [NAN, INF]) is None
    assert best_so_far(Rule("loss", "<", 0.9), []) is None


@pytest.mark.parametrize(
    ("rule", "level", "rearmed", "not_rearmed"),
    [
        (Rule("a", ">=", 0.9), 0.891, [0.89, -5.0], [0.891, 0.9, 0.95, NAN, -INF]),
        (Rule("a", ">", 0.9), 0.891, [0.891, 0.5], [0.8911, 0.95, NAN]),
        (Rule("a", "<=", 0.2), 0.202, [0.2021, 9.0], [0.202, 0.2, NAN, INF]),
        (Rule("a", "<", 0.2), 0.202, [0.202, 9.0], [0.2019, NAN]),
        (Rule("a", ">=", 0.0), -1e-9, [-1e-8], [-1e-9, 0.0]),
        (Rule("a", ">=", 10.0, hysteresis=2.0), 8.0, [7.9], [8.0, 9.0]),
    ],
)
def test_rearm(rule, level, rearmed, not_rearmed):
    assert rule.rearm_level == pytest.approx(level)
    assert all(rule.is_rearmed(v) for v in rearmed)
    assert not any(rule.is_rearmed(v) for v in not_rearmed)


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        (Rule("a", ">=", 0.9), 0.9, True),
        (Rule("a", ">", 0.9), 0.9, False),
        (Rule("a", "<=", 0.9), 0.9, True),
        (Rule("a", "<", 0.9), 0.9, False),
        (Rule("a", ">=", 0.9), INF, False),
        (Rule("a", "<=", 0.9), -INF, False),
        (Rule("a", "<=", 0.9), NAN, False),
        (Rule("a", ">=", 1), 2, True),
    ],
)
def test_holds(rule, value, expected):
    assert rule.holds(value) is expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"op": "=="},
        {"op": "=>"},
        {"threshold": NAN},
        {"threshold": INF},
        {"patience": 0},
        {"patience": 1.5},
        {"patience": True},
        {"hysteresis": -0.1},
        {"hysteresis": NAN},
    ],
)
def test_rule_rejects_bad_values(kwargs):
    args = {"metric": "acc", "op": ">=", "threshold": 0.9} | kwargs
    with pytest.raises(ValueError):
        Rule(**args)


def test_describe():
    assert Rule("val_acc", ">=", 0.9, patience=2).describe() == "val_acc >= 0.9 for 2 evals"
    assert Rule("loss", "<", 0.05).describe() == "loss < 0.05"


@pytest.mark.parametrize(
    ("metrics", "keys", "expected"),
    [
        ({"loss": NAN, "val_loss": 0.3, "acc": NAN}, None, ["loss"]),
        ({"Train/Loss": INF, "val_LOSS": -INF, "loss_scale": 1.0}, None, ["Train/Loss", "val_LOSS"]),
        ({"loss": 0.1}, None, []),
        ({}, None, []),
        ({"acc": NAN, "loss": NAN}, ["acc", "missing"], ["acc"]),
        ({"acc": NAN}, [], []),
        ({"loss": None, "val_loss": "nan"}, None, []),
    ],
)
def test_nonfinite(metrics, keys, expected):
    assert nonfinite(metrics, keys) == expected


# -- splitting the points over several calls gives the same result as one call ---------------

values_st = st.lists(
    st.one_of(
        st.sampled_from([0.85, 0.891, 0.895, 0.9, 0.905, 0.91, 0.95, NAN, INF, -INF]),
        st.floats(min_value=0.7, max_value=1.1),
    ),
    max_size=40,
)
rule_st = st.builds(
    Rule,
    metric=st.just("acc"),
    op=st.sampled_from([">=", ">", "<=", "<"]),
    threshold=st.sampled_from([0.9, 0.0, -1.0]),
    patience=st.integers(min_value=1, max_value=4),
    hysteresis=st.one_of(st.none(), st.sampled_from([0.0, 0.01, 0.05])),
)


@settings(max_examples=300)
@given(rule=rule_st, values=values_st, data=st.data())
def test_chunked_evaluation_matches_single_call(rule, values, data):
    points = pts(values)
    whole = evaluate(rule, TargetProgress(), points)

    index = st.integers(min_value=0, max_value=len(points))
    cuts = data.draw(st.lists(index, max_size=10), label="cuts")
    overlap = data.draw(st.integers(min_value=0, max_value=3), label="overlap")
    bounds = sorted({0, len(points), *cuts})
    progress, found = TargetProgress(), []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        # re-send a few already-seen points, as an inclusive start_step re-fetch does
        progress, more = evaluate(rule, progress, points[max(lo - overlap, 0) : hi])
        found += more
    assert (progress, found) == whole


@given(rule=rule_st, values=values_st)
def test_crossings_are_separated_by_a_rearm(rule, values):
    points = pts(values)
    _, found = evaluate(rule, TargetProgress(), points)
    assert [c.number for c in found] == list(range(1, len(found) + 1))
    for a, b in zip(found, found[1:], strict=False):
        between = [p.value for p in points if a.step < p.step < b.step]
        assert any(rule.is_rearmed(v) for v in between)
    for c in found:
        assert rule.holds(c.value)
