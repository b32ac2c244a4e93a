from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.commands import When, is_past, resolve_when

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Saturday 2026-03-28, the day before Berlin springs forward (02:00 CET -> 03:00 CEST).
CURRENT_TIME = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
FRIDAY_NOON = datetime(2026, 3, 27, 12, 0, tzinfo=BERLIN)


def on(date_=None, weekday=None, days=None, at=time(10)):
    return When(date_, weekday, days, at)


@pytest.mark.parametrize(
    ("when", "now", "expected"),
    [
        # relative days keep the wall time across the DST switch: 23 real hours later
        (on(days=1), CURRENT_TIME, datetime(2026, 3, 29, 10, 0, tzinfo=BERLIN)),
        (on(days=0, at=time(9)), CURRENT_TIME, datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN)),
        (on(date(2026, 4, 1), at=time(9, 30)), CURRENT_TIME, datetime(2026, 4, 1, 9, 30, tzinfo=BERLIN)),
        # weekday: today if still ahead, else a week later; rolls over Sunday -> Monday
        (on(weekday=4, at=time(14)), FRIDAY_NOON, datetime(2026, 3, 27, 14, 0, tzinfo=BERLIN)),
        (on(weekday=4, at=time(11)), FRIDAY_NOON, datetime(2026, 4, 3, 11, 0, tzinfo=BERLIN)),
        (on(weekday=4, at=time(12)), FRIDAY_NOON, datetime(2026, 4, 3, 12, 0, tzinfo=BERLIN)),
        (on(weekday=0, at=time(9)), FRIDAY_NOON, datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)),
        (on(weekday=6, at=time(9)), CURRENT_TIME, datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)),
        (on(weekday=3, at=time(9)), FRIDAY_NOON, datetime(2026, 4, 2, 9, 0, tzinfo=BERLIN)),
        (
            on(weekday=0, at=time(8)),
            datetime(2026, 12, 31, 18, 0, tzinfo=BERLIN),
            datetime(2027, 1, 4, 8, 0, tzinfo=BERLIN),
        ),
    ],
)
def test_resolve_when(when, now, expected):
    resolved = resolve_when(when, now)
    assert resolved == expected
    assert resolved.tzinfo is BERLIN
    assert resolved.utcoffset() == expected.utcoffset()


def test_tomorrow_across_spring_forward_is_23_hours():
    resolved = resolve_when(on(days=1), CURRENT_TIME)
    assert resolved.utcoffset() == timedelta(hours=2)
    assert resolved.astimezone(UTC) - CURRENT_TIME.astimezone(UTC) == timedelta(hours=23)


def test_wall_time_in_the_dst_gap_moves_to_the_real_moment():
    resolved = resolve_when(on(weekday=6, at=time(2, 30)), CURRENT_TIME)
    assert (resolved.hour, resolved.minute, resolved.utcoffset()) == (3, 30, timedelta(hours=2))


def test_weekday_same_day_compares_instants_not_wall_clock():
    # 01:30 on 2026-11-01 happens twice in New York; `now` is the second (EST) one.
    now = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)
    # 01:45 (first, EDT) was 45 minutes ago in real time, so it is next Sunday.
    assert resolve_when(on(weekday=6, at=time(1, 45)), now).date() == date(2026, 11, 8)
    assert resolve_when(on(weekday=6, at=time(3)), now).date() == date(2026, 11, 1)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (CURRENT_TIME - timedelta(minutes=1), True),
        (CURRENT_TIME, False),
        (CURRENT_TIME + timedelta(minutes=1), False),
        (datetime(2026, 3, 28, 9, 30, tzinfo=UTC), False),  # 10:30 in Berlin
    ],
)
def test_is_past(moment, expected):
    assert is_past(moment, CURRENT_TIME) is expected


def test_explicit_past_date_is_returned_for_the_handler_to_reject():
    resolved = resolve_when(on(date(2026, 3, 1)), CURRENT_TIME)
    assert is_past(resolved, CURRENT_TIME)
