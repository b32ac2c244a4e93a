"""Standup and digest schedules: when "weekdays at 09:30" happens in a given time zone.

Pure: `now` is passed in. Fire times come from APScheduler's CronTrigger, which knows about
DST gaps and folds, instead of hand-written date math
(https://apscheduler.readthedocs.io/en/3.x/modules/triggers/cron.html).

A standup *period* is a local date: a member in Berlin and one in New York both answer the
standup of 2026-11-23 at their own 09:30, hours apart. The channel's round for that date opens
at the earliest member prompt and closes after the latest member's answer window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

DAY_ABBR = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Local times happen first at UTC+14 and last at UTC-12 (POSIX Etc zones invert the sign).
EARLIEST_ZONE = "Etc/GMT-14"
LATEST_ZONE = "Etc/GMT+12"


@dataclass(frozen=True)
class Cadence:
    """A time of day on some weekdays (Monday=0), as `/ready standup at 09:30 on mon-fri` says."""

    time: dt.time
    days: frozenset[int]

    @classmethod
    def of(cls, hhmm: str, days_text: str) -> Cadence:
        hour, minute = (int(x) for x in hhmm.split(":"))
        return cls(dt.time(hour, minute), parse_days(days_text))

    @property
    def hhmm(self) -> str:
        return self.time.strftime("%H:%M")

    @property
    def days_text(self) -> str:
        return ",".join(str(d) for d in sorted(self.days))

    def describe(self) -> str:
        return f"{self.hhmm} on {describe_days(self.days)}"


def parse_days(text: str) -> frozenset[int]:
    """The stored form "0,1,2,3,4" back to weekday numbers; junk entries are ignored."""
    return frozenset(int(p) for p in text.split(",") if p.strip().isdigit() and int(p) < 7)


def describe_days(days: Iterable[int]) -> str:
    days = sorted(set(days))
    if days == list(range(7)):
        return "every day"
    if days == list(range(5)):
        return "weekdays"
    if days == [5, 6]:
        return "weekends"
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{DAY_ABBR[days[0]].title()}–{DAY_ABBR[days[-1]].title()}"
    return ", ".join(DAY_ABBR[d].title() for d in days) or "no days"


def zone(name: str | None) -> ZoneInfo:
    """A time zone by name; Slack's or a typo'd name falls back to UTC rather than failing a job."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def trigger(cadence: Cadence, tz: str) -> CronTrigger | None:
    if not cadence.days:
        return None
    dow = ",".join(DAY_ABBR[d] for d in sorted(cadence.days))
    return CronTrigger(day_of_week=dow, hour=cadence.time.hour, minute=cadence.time.minute, timezone=zone(tz))


def fire_on(cadence: Cadence, day: dt.date, tz: str) -> dt.datetime | None:
    """When the cadence fires on local date `day` in `tz` (UTC), or None if it does not that day."""
    cron = trigger(cadence, tz)
    if cron is None:
        return None
    midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone(tz))
    fire = cron.get_next_fire_time(None, midnight)
    if fire is None or fire.astimezone(zone(tz)).date() != day:
        return None  # a day off, or the time falls into a DST gap that day
    return fire.astimezone(dt.UTC)


def next_fire(cadence: Cadence, tz: str, after: dt.datetime) -> dt.datetime | None:
    cron = trigger(cadence, tz)
    fire = cron.get_next_fire_time(None, after) if cron else None
    return fire.astimezone(dt.UTC) if fire else None


def local_date(at: dt.datetime, tz: str) -> dt.date:
    return at.astimezone(zone(tz)).date()


def open_standup_days(cadence: Cadence, now: dt.datetime, window: dt.timedelta) -> list[dt.date]:
    """Local dates whose standup may be under way somewhere on Earth at `now`.

    From the moment the time first happens (UTC+14) until the last member's window can end
    (UTC-12 plus the window). The caller creates a round for each date that has none yet.
    """
    today = now.astimezone(dt.UTC).date()
    days = []
    for day in (today - dt.timedelta(days=1), today, today + dt.timedelta(days=1)):
        first = fire_on(cadence, day, EARLIEST_ZONE)
        last = fire_on(cadence, day, LATEST_ZONE)
        if first and last and first <= now < last + window:
            days.append(day)
    return days


def member_window(
    cadence: Cadence, day: dt.date, tz: str, window: dt.timedelta
) -> tuple[dt.datetime, dt.datetime] | None:
    """(prompt_at, due_at) for a member in `tz` on local date `day`; None if no standup then."""
    prompt_at = fire_on(cadence, day, tz)
    return None if prompt_at is None else (prompt_at, prompt_at + window)


def reminder_due(
    prompt_at: dt.datetime, due_at: dt.datetime, lead: dt.timedelta, now: dt.datetime
) -> bool:
    """One reminder, `lead` before the window closes (but never before the prompt itself)."""
    remind_at = max(prompt_at, due_at - lead)
    return remind_at <= now < due_at


def due_digest_day(
    cadence: Cadence, tz: str, now: dt.datetime, not_before: dt.datetime, grace: dt.timedelta
) -> dt.date | None:
    """The local date whose digest time has come and is not older than `grace`, if any.

    `not_before` (when the schedule was set) keeps a schedule set at 10:00 for 09:30 from
    posting right away; `grace` keeps a bot that was down for a day from posting stale digests.
    """
    today = local_date(now, tz)
    for day in (today, today - dt.timedelta(days=1)):
        fire = fire_on(cadence, day, tz)
        if fire and fire <= now and fire >= not_before and now - fire <= grace:
            return day
    return None
