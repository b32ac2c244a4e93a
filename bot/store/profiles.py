"""Slack users as schedules need them, as cached in UserProfile: time zone, bot or human, and
away dates. Asking Slack for them (users.info, conversations.members) is bot/slack_members.py;
this module only keeps what it learnt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

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


def remember(store: Store, team_id: str, member: Member, now: datetime) -> None:
    try:
        with store.tx() as s:
            row = s.get(UserProfile, (team_id, member.user_id))
            if row is None:
                s.add(UserProfile(team_id=team_id, user_id=member.user_id, tz=member.tz,
                                  is_bot=member.is_bot, fetched_at=now))
            else:
                row.tz, row.is_bot, row.fetched_at = member.tz, member.is_bot, now
    except IntegrityError:
        pass  # another replica cached the same user at the same moment


def set_away(store: Store, team_id: str, user_id: str, until: datetime | None, now: datetime) -> None:
    with store.tx() as s:
        row = s.get(UserProfile, (team_id, user_id))
        if row is None:
            s.add(UserProfile(team_id=team_id, user_id=user_id, away_until=until, fetched_at=now - FRESH))
        else:
            row.away_until = until
