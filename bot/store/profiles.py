"""Slack users as schedules need them, as cached in UserProfile: time zone, bot or human, and
away dates. Asking Slack for them (users.info, conversations.members) is bot/slack_members.py;
this module only keeps what it learnt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store import sets
from bot.store.db import Store
from bot.store.models import UserProfile

FRESH = timedelta(hours=24)  # people rarely move zones; a day-old zone is good enough


@dataclass(frozen=True)
class Member:
    user_id: str
    tz: str = "UTC"
    is_bot: bool = False
    keys: tuple[str, ...] = ()  # spellings matched against Run.owner


def cached_member(store: Store, team_id: str, user_id: str) -> Member:
    with store.tx() as s:
        row = s.get(UserProfile, (team_id, user_id))
        return Member(user_id=user_id, tz=(row.tz if row else None) or "", is_bot=bool(row and row.is_bot))


def remember_all(store: Store, team_id: str, members: list[Member], now: datetime) -> None:
    """Cache what Slack said of these members: one transaction and one read for a whole channel
    (a standup of 50 people is one round trip, not 50)."""
    if not members:
        return
    try:
        with store.tx() as s:
            _remember_in(s, team_id, members, now)
    except IntegrityError:  # another replica cached one of them at the same moment: one by one
        if len(members) == 1:
            return
        for member in members:
            remember_all(store, team_id, [member], now)


def _remember_in(s: Session, team_id: str, members: list[Member], now: datetime) -> None:
    ids = list(dict.fromkeys(m.user_id for m in members))
    known = {row.user_id: row for row in s.scalars(
        select(UserProfile).where(UserProfile.team_id == team_id, sets.one_of(s, UserProfile.user_id, ids, String())))}
    for member in {m.user_id: m for m in members}.values():
        row = known.get(member.user_id)
        if row is None:
            s.add(UserProfile(team_id=team_id, user_id=member.user_id, tz=member.tz,
                              is_bot=member.is_bot, fetched_at=now))
        else:
            row.tz, row.is_bot, row.fetched_at = member.tz, member.is_bot, now


def set_away(store: Store, team_id: str, user_id: str, until: datetime | None, now: datetime) -> None:
    with store.tx() as s:
        row = s.get(UserProfile, (team_id, user_id))
        if row is None:
            s.add(UserProfile(team_id=team_id, user_id=user_id, away_until=until, fetched_at=now - FRESH))
        else:
            row.away_until = until
