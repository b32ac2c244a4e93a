"""Schedule math: fire times per time zone, standup periods, reminders, digest due days."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.schedules import (
    Cadence,
    describe_days,
    due_digest_day,
    fire_on,
    member_window,
    next_fire,
    open_standup_days,
    parse_days,
    reminder_due,
)

UTC = dt.UTC
WEEKDAYS = Cadence(dt.time(9, 30), frozenset(range(5)))
MON = dt.date(2026, 11, 23)
TUE = dt.date(2026, 11, 24)
H4 = dt.timedelta(hours=4)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("UTC", at(23, 9, 30)),
        ("Europe/Berlin", at(23, 8, 30)),  # CET, UTC+1
        ("America/New_York", at(23, 14, 30)),  # EST, UTC-5
        ("Asia/Kolkata", at(23, 4, 0)),  # UTC+5:30
        ("Pacific/Kiritimati", at(22, 19, 30)),  # UTC+14: Monday 09:30 is Sunday evening in UTC
    ],
)
def test_fire_on_is_local_time_in_each_zone(tz, expected):
    assert fire_on(WEEKDAYS, MON, tz) == expected


def test_no_fire_on_days_off():
    assert fire_on(WEEKDAYS, dt.date(2026, 11, 28), "UTC") is None  # Saturday
    assert fire_on(WEEKDAYS, dt.date(2026, 11, 29), "Europe/Berlin") is None  # Sunday


def test_dst_is_followed():
    summer = fire_on(WEEKDAYS, dt.date(2026, 7, 6), "Europe/Berlin")
    assert summer == dt.datetime(2026, 7, 6, 7, 30, tzinfo=UTC)  # CEST, UTC+2


def test_time_in_a_dst_gap_still_fires_that_day():
    night = Cadence(dt.time(2, 30), frozenset(range(7)))
    # 02:30 does not exist on 2026-03-29 in Berlin (02:00 -> 03:00); CronTrigger fires at 03:30 CEST.
    assert fire_on(night, dt.date(2026, 3, 29), "Europe/Berlin") == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_unknown_zone_falls_back_to_utc():
    assert fire_on(WEEKDAYS, MON, "Mars/Olympus") == at(23, 9, 30)


def test_next_fire_skips_the_weekend():
    assert next_fire(WEEKDAYS, "UTC", at(27, 10, 0)) == dt.datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "days"),
    [
        (at(22, 19, 29), []),  # Sunday: Monday's standup has not begun anywhere yet
        (at(22, 19, 30), [MON]),  # ... now it is 09:30 on Monday at UTC+14
        (at(23, 12, 0), [MON]),
        (at(23, 19, 30), [MON, TUE]),  # Tuesday 09:30 at UTC+14 while Monday's UTC-12 members answer
        (at(24, 1, 29), [MON, TUE]),  # UTC-12 prompts at Monday 21:30 UTC, window ends 01:30
        (at(24, 1, 30), [TUE]),
        (at(28, 12, 0), []),  # Saturday
    ],
)
def test_open_standup_days(now, days):
    assert open_standup_days(WEEKDAYS, now, H4) == days


def test_member_window():
    assert member_window(WEEKDAYS, MON, "Europe/Berlin", H4) == (at(23, 8, 30), at(23, 12, 30))
    assert member_window(WEEKDAYS, dt.date(2026, 11, 28), "UTC", H4) is None


@pytest.mark.parametrize(
    ("now", "due"),
    [(at(23, 11, 29), False), (at(23, 11, 30), True), (at(23, 12, 29), True), (at(23, 12, 30), False)],
)
def test_reminder_due_one_hour_before_close(now, due):
    assert reminder_due(at(23, 8, 30), at(23, 12, 30), dt.timedelta(hours=1), now) is due


def test_reminder_never_before_the_prompt():
    assert not reminder_due(at(23, 8, 30), at(23, 9, 0), dt.timedelta(hours=1), at(23, 8, 0))


@pytest.mark.parametrize(
    ("now", "set_at", "expected"),
    [
        (at(23, 16, 59), at(20, 0), None),
        (at(23, 17, 0), at(20, 0), MON),
        (at(23, 22, 0), at(20, 0), MON),
        (at(23, 23, 1), at(20, 0), None),  # more than the grace late: skipped, not posted stale
        (at(23, 17, 0), at(23, 17, 30), None),  # set after today's time: starts tomorrow
        (at(28, 17, 0), at(20, 0), None),  # Saturday
    ],
)
def test_due_digest_day(now, set_at, expected):
    cadence = Cadence(dt.time(17, 0), frozenset(range(5)))
    assert due_digest_day(cadence, "UTC", now, set_at, dt.timedelta(hours=6)) == expected


def test_days_round_trip_and_describe():
    cadence = Cadence.of("09:30", "0,2,4")
    assert cadence.days == frozenset({0, 2, 4}) and cadence.days_text == "0,2,4"
    assert cadence.describe() == "09:30 on Mon, Wed, Fri"
    assert describe_days(range(5)) == "weekdays"
    assert describe_days(range(1, 4)) == "Tue–Thu"
    assert parse_days("0,x,9,3") == frozenset({0, 3})
