"""Turning a typed `When` into a real moment, in the invoking user's time zone."""

import datetime as dt

from .types import When

# Reviews are meetings: a year ahead is far enough, and a bound keeps date arithmetic (a lead
# time, a postponement, a UTC round trip of 9999-12-31 23:59) inside datetime's range.
MAX_AHEAD = dt.timedelta(days=366)


class TooFarAhead(ValueError):
    """The moment named lies more than MAX_AHEAD after now."""


def resolve_when(when: When, now: dt.datetime) -> dt.datetime:
    """The moment `when` names, seen from `now` (tz-aware, in the user's zone).

    A weekday means the next such day, today if its time is still ahead. Explicit dates are
    returned even when past: the handler rejects those with `is_past`.
    """
    today = now.date()
    if when.date is not None:
        if when.date > today + MAX_AHEAD:
            raise TooFarAhead(f"{when.date:%Y-%m-%d} is too far ahead: pick a day within a year")
        day = when.date
    elif when.relative_days is not None:
        day = today + dt.timedelta(days=when.relative_days)
    else:
        assert when.weekday is not None  # When guarantees exactly one field
        day = today + dt.timedelta(days=(when.weekday - today.weekday()) % 7)
        if is_past(_local(day, when.time, now.tzinfo), now, inclusive=True):
            day += dt.timedelta(days=7)
    return _local(day, when.time, now.tzinfo)


def _local(day: dt.date, time: dt.time, tz: dt.tzinfo | None) -> dt.datetime:
    # Wall time built in the zone (not now + timedelta), so 10:00 stays 10:00 across DST.
    wall = dt.datetime.combine(day, time, tzinfo=tz)
    # A wall time inside the spring-forward gap (02:30 in Berlin on 2026-03-29) does not
    # exist; a UTC round trip moves it to the real moment it denotes (03:30 CEST).
    return wall.astimezone(dt.UTC).astimezone(tz)


def is_past(moment: dt.datetime, now: dt.datetime, inclusive: bool = False) -> bool:
    """Compare as instants: aware datetimes sharing a tzinfo compare by wall time in Python,
    which is wrong for the repeated hour when clocks fall back."""
    moment_utc, now_utc = moment.astimezone(dt.UTC), now.astimezone(dt.UTC)
    return moment_utc <= now_utc if inclusive else moment_utc < now_utc
