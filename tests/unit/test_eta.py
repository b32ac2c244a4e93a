from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.eta import estimate_eta, format_duration, format_eta, progress_fraction

CURRENT_TIME = datetime(2025, 3, 14, 14, 0, tzinfo=UTC)  # 15:00 in Berlin (CET)
BERLIN = ZoneInfo("Europe/Berlin")


def ago(**kw):
    return CURRENT_TIME - timedelta(**kw)


def later(**kw):
    return CURRENT_TIME + timedelta(**kw)


@pytest.mark.parametrize(
    ("step", "total", "expected"),
    [
        (50, 100, 0.5),
        (0, 100, 0.0),
        (150, 100, 1.0),
        (-3, 100, 0.0),
        (None, 100, None),
        (10, None, None),
        (10, 0, None),
    ],
)
def test_progress_fraction(step, total, expected):
    assert progress_fraction(step, total) == expected


@pytest.mark.parametrize(
    ("step", "total", "started_at", "history", "expected"),
    [
        # average since start: 100 steps in 1h, 300 to go -> 3h
        (100, 400, ago(hours=1), (), later(hours=3)),
        # the recent rate wins over the average: now 400 steps/h, 300 to go -> 45 min
        (100, 400, ago(hours=1), [(ago(minutes=15), 0), (ago(minutes=0), 100)], later(minutes=45)),
        # only the last few samples count: early slow samples are ignored
        (
            600,
            1000,
            ago(hours=10),
            [(ago(hours=9), 0), *[(ago(minutes=10 * i), 600 - 100 * i) for i in range(4, -1, -1)]],
            later(minutes=40),
        ),
        # samples after `now` are ignored; one usable sample -> fall back to the average
        (100, 400, ago(hours=1), [(ago(minutes=1), 100), (later(minutes=5), 999)], later(hours=3)),
        # no recent progress (polled between logs) -> fall back to the average
        (100, 200, ago(hours=1), [(ago(minutes=2), 100), (ago(minutes=1), 100)], later(hours=1)),
        # steps went backwards (resumed from a checkpoint) -> average
        (100, 200, ago(hours=1), [(ago(minutes=2), 150), (ago(minutes=1), 100)], later(hours=1)),
        # history alone is enough without started_at
        (100, 200, None, [(ago(minutes=10), 50), (ago(minutes=0), 100)], later(minutes=20)),
        # done or past the total: ETA is now
        (400, 400, ago(hours=1), (), CURRENT_TIME),
        (401, 400, ago(hours=1), (), CURRENT_TIME),
        # unknowable
        (100, None, ago(hours=1), (), None),
        (100, 0, ago(hours=1), (), None),
        (None, 400, ago(hours=1), (), None),
        (0, 400, ago(hours=1), (), None),  # no progress yet
        (100, 400, None, (), None),  # no start, no history
        (100, 400, later(minutes=5), (), None),  # start in the future (clock skew)
        (100, 400, CURRENT_TIME, (), None),
        (1, 10**15, ago(days=3000), (), None),  # out of datetime range
    ],
)
def test_estimate_eta(step, total, started_at, history, expected):
    assert estimate_eta(step, total, started_at, CURRENT_TIME, history) == expected


def test_eta_is_never_in_the_past():
    # the recent rate is fast but the last sample is old; still not before now
    history = [(ago(hours=5), 0), (ago(hours=4), 1000)]
    eta = estimate_eta(1999, 2000, ago(hours=5), CURRENT_TIME, history)
    assert eta is not None and eta >= CURRENT_TIME


@pytest.mark.parametrize(
    ("td", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=0.9), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=5, seconds=30), "5m 30s"),
        (timedelta(hours=2, minutes=10), "2h 10m"),
        (timedelta(hours=2, minutes=10, seconds=59), "2h 10m"),
        (timedelta(hours=2), "2h"),
        (timedelta(hours=2, seconds=5), "2h"),
        (timedelta(days=3, hours=4), "3d 4h"),
        (timedelta(days=3, minutes=4), "3d"),
        (timedelta(days=400), "400d"),
        (timedelta(minutes=-90), "-1h 30m"),
    ],
)
def test_format_duration(td, expected):
    assert format_duration(td) == expected


@pytest.mark.parametrize(
    ("eta", "tz", "expected"),
    [
        (later(hours=2, minutes=10), BERLIN, "17:10 (in 2h 10m)"),
        (later(hours=2, minutes=10), "UTC", "16:10 (in 2h 10m)"),
        (later(hours=18), BERLIN, "tomorrow 09:00 (in 18h)"),
        (later(hours=8, minutes=30), BERLIN, "23:30 (in 8h 30m)"),
        (later(hours=9, minutes=30), BERLIN, "tomorrow 00:30 (in 9h 30m)"),
        (later(hours=9, minutes=30), "America/New_York", "19:30 (in 9h 30m)"),
        (later(days=3, hours=1), BERLIN, "Mon 16:00 (in 3d 1h)"),
        (later(days=12), "UTC", "2025-03-26 14:00 (in 12d)"),
        (later(seconds=45), "UTC", "14:00 (in 45s)"),
        (CURRENT_TIME, BERLIN, "now"),
        (ago(minutes=5), BERLIN, "now"),
        (None, BERLIN, "unknown"),
    ],
)
def test_format_eta(eta, tz, expected):
    assert format_eta(eta, CURRENT_TIME, tz) == expected


def test_format_eta_across_dst_change():
    now = datetime(2025, 3, 29, 20, 0, tzinfo=UTC)  # Sat 21:00 CET; clocks go forward Sunday 02:00
    assert format_eta(now + timedelta(hours=12), now, BERLIN) == "tomorrow 10:00 (in 12h)"
