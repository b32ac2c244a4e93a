"""Opening a standup round: who is in the channel, in which time zone, and when each is asked.

The round row is unique per (team, channel, period): every replica may try to open the same round,
the database lets one insert win, and the others drop theirs. Slack is asked before the
transaction (a slow Slack call never holds database locks).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from bot.core.schedules import Cadence, member_window
from bot.core.standups import owner_keys, questions_of
from bot.core.working_hours import deferral
from bot.services import Services
from bot.slack_members import channel_member_ids, fetch_members
from bot.store import people
from bot.store import standups as q
from bot.store.models import Schedule, StandupAnswer, StandupRound
from bot.store.profiles import Member

log = logging.getLogger(__name__)

# member -> (time zone, prompt_at, due_at), or None when the member is not asked this round
Timing = Callable[[Member], tuple[str, datetime, datetime] | None]


@dataclass(frozen=True)
class Opened:
    round_id: int
    asked: int
    # `/ready standup now`: who is asked later, and why ("<@U3>: it is 02:10 for them; ...")
    deferred: tuple[str, ...] = ()


def open_scheduled(services: Services, schedule: Schedule, day: dt.date, now: datetime) -> Opened | None:
    """Open the round of local date `day`; each member is asked at the schedule's time in their
    own zone (or the channel's). Members whose time had passed when the schedule was set wait."""
    cadence = Cadence.of(schedule.time, schedule.days)
    win = q.window(schedule.questions)

    def timing(member: Member) -> tuple[str, datetime, datetime] | None:
        # A member whose zone Slack would not tell (tz "") is asked at the channel's time.
        tz = (member.tz or schedule.tz) if schedule.per_member_tz else schedule.tz
        found = member_window(cadence, day, tz, win)
        if found is None or found[0] < schedule.created_at:
            return None
        return tz, found[0], found[1]

    return open_round(services, schedule.team_id, schedule.channel_id, day.isoformat(),
                      questions_of(schedule.questions), timing, now, "readybot")


def open_now(services: Services, team_id: str, channel_id: str, user_id: str, now: datetime) -> Opened | None:
    """`/ready standup now`: everyone is asked at once, with the usual answer window, except a
    member for whom it is night or the weekend: they are asked at the start of their next working
    day (bot.core.working_hours). Whoever typed the command is awake, and is asked at once."""
    with services.store.tx() as s:
        schedule = q.schedule_of(s, team_id, channel_id, "standup")
        config = dict(schedule.questions or {}) if schedule else {}
    win = q.window(config)
    period = f"now-{now:%Y%m%dT%H%M%S}"
    deferred: dict[str, str] = {}

    def timing(member: Member) -> tuple[str, datetime, datetime]:
        later = None if member.user_id == user_id else deferral(member.tz, now)
        if later is None:
            return member.tz or "UTC", now, now + win
        deferred[member.user_id] = later.describe(member.user_id)
        return member.tz, later.prompt_at, later.prompt_at + win

    opened = open_round(services, team_id, channel_id, period, questions_of(config), timing, now, user_id)
    return None if opened is None else Opened(opened.round_id, opened.asked, tuple(deferred.values()))


def open_round(
    services: Services, team_id: str, channel_id: str, period: str, questions: list[str],
    timing: Timing, now: datetime, created_by: str,
) -> Opened | None:
    """Create the round and one answer row per asked member; None when Slack could not list
    the channel or another replica opened the round first."""
    client = services.clients.for_team(team_id)
    try:
        members = humans(services, client, team_id, channel_id, now)
    except SlackApiError as exc:
        log.warning("standup %s/%s: cannot list members: %s", channel_id, period, exc.response.get("error"))
        return None
    asked = [(m, t) for m in members if (t := timing(m)) is not None]
    opens = min((t[1] for _, t in asked), default=now)
    closes = max((t[2] for _, t in asked), default=now)
    try:
        with services.store.tx() as s:
            rnd = StandupRound(team_id=team_id, channel_id=channel_id, period=period, questions=questions,
                               message_key=f"standup:{team_id}:{channel_id}:{period}", opens_at=opens, closes_at=closes,
                               created_by=created_by, created_at=now)
            s.add(rnd)
            s.flush()
            # A member's runs are those whose owner matches their Slack names or a username they claimed.
            claimed = people.usernames_of(s, team_id, [m.user_id for m, _ in asked])
            rows = [dict(round_id=rnd.id, user_id=member.user_id, tz=tz, prompt_at=prompt_at, due_at=due_at,
                         status="pending", answers={},
                         owner_keys=list(dict.fromkeys([*member.keys, *owner_keys(*claimed.get(member.user_id, []))])))
                    for member, (tz, prompt_at, due_at) in asked]
            if rows:  # one statement for the whole channel
                s.execute(insert(StandupAnswer), rows)
    except IntegrityError:
        return None  # another replica opened this round first
    return Opened(rnd.id, len(asked))


def humans(services: Services, client: WebClient, team_id: str, channel_id: str, now: datetime) -> list[Member]:
    """The channel's members minus bots and deactivated accounts, with their Slack zones."""
    ids = channel_member_ids(client, channel_id)
    found = [m for m in fetch_members(client, services.store, team_id, ids, now, fallback=True)
             if m is not None and not m.is_bot]
    if any(not m.tz for m in found):
        # users.info failed for some: at least never ask ourselves.
        me = _own_user_id(client)
        found = [m for m in found if m.user_id != me]
    return found


def _own_user_id(client: WebClient) -> str | None:
    try:
        return client.auth_test().get("user_id")
    except SlackApiError:
        return None
