"""Working hours: when a member can be asked something today, in their own time zone.

`/ready standup now` asks everyone at once; a member for whom it is night (or the weekend) gets
the prompt at the start of their next working day instead, and the round says so. Pure: the
zone and `now` are passed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WORKDAY_START = dt.time(9, 0)
WORKDAY_END = dt.time(18, 0)
WORKDAYS = frozenset(range(5))  # Monday to Friday


@dataclass(frozen=True)
class Deferral:
    """A member asked later: their clock when the round opened, and when they are asked (UTC)."""

    local_now: dt.datetime
    prompt_at: dt.datetime

    def describe(self, user_id: str) -> str:
        """`<@U2>: it is 02:10 for them; prompt at 09:00 their time` (the weekday when not today
        or tomorrow for them, so a Friday night does not read as Saturday morning)."""
        local_prompt = self.prompt_at.astimezone(self.local_now.tzinfo)
        days = (local_prompt.date() - self.local_now.date()).days
        clock = f"{self.local_now:%H:%M}" if self.local_now.weekday() in WORKDAYS else f"{self.local_now:%a %H:%M}"
        when = f"{local_prompt:%H:%M}" if days <= 1 else f"{local_prompt:%a %H:%M}"
        return f"<@{user_id}>: it is {clock} for them; prompt at {when} their time"


def _zone(tz: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(tz) if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_working_time(local: dt.datetime) -> bool:
    return local.weekday() in WORKDAYS and WORKDAY_START <= local.time() < WORKDAY_END


def next_workday_start(local: dt.datetime) -> dt.datetime:
    """The first WORKDAY_START on a working day at or after `local`, in local's zone."""
    day = local.date()
    while True:
        start = dt.datetime.combine(day, WORKDAY_START, tzinfo=local.tzinfo)
        if day.weekday() in WORKDAYS and start >= local:
            return start
        day += dt.timedelta(days=1)


def deferral(tz: str, now: dt.datetime) -> Deferral | None:
    """None when `now` is inside the working hours of zone `tz`, or the zone is unknown (a
    member Slack would not describe is asked at once rather than at a guessed hour)."""
    zone = _zone(tz)
    if zone is None:
        return None
    local = now.astimezone(zone)
    if is_working_time(local):
        return None
    return Deferral(local, next_workday_start(local).astimezone(dt.UTC))
