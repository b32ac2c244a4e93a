"""Slack users as schedules need them: time zone (cached in UserProfile), bot or human, and the
names we match against run owners. The edge where users.info and conversations.members are read."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import IntegrityError

from bot.core.standups import owner_keys
from bot.store.db import Store
from bot.store.models import UserProfile

log = logging.getLogger(__name__)
FRESH = timedelta(hours=24)  # people rarely move zones; a day-old zone is good enough
MAX_MEMBERS = 1000  # a standup for more people than this is not a standup


@dataclass(frozen=True)
class Member:
    user_id: str
    tz: str = "UTC"
    is_bot: bool = False
    keys: tuple[str, ...] = ()  # spellings matched against Run.owner


def channel_member_ids(client: WebClient, channel_id: str) -> list[str]:
    """conversations.members, every page."""
    members: list[str] = []
    cursor = None
    while len(members) < MAX_MEMBERS:
        resp = client.conversations_members(channel=channel_id, limit=200, cursor=cursor)
        members.extend(resp.get("members") or [])
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return members[:MAX_MEMBERS]


GONE = {"user_not_found", "user_not_visible"}  # users.info errors that mean "no such person"


def fetch_member(client: WebClient, store: Store, team_id: str, user_id: str, now: datetime,
                 fallback: bool = False) -> Member | None:
    """users.info, refreshing the cached profile; None for deleted or unknown users.

    When Slack cannot be asked (an error, a rate limit, no such method), None as well, unless
    `fallback`: then what is cached, or a person whose zone is unknown (tz ""), so a standup
    still reaches them (at the channel's time) instead of silently leaving them out.
    """
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("users.info %s failed: %s", user_id, error)
        if not fallback or error in GONE:
            return None
        return cached_member(store, team_id, user_id)
    if user.get("deleted"):
        return None
    profile = user.get("profile") or {}
    member = Member(
        user_id=user_id,
        tz=user.get("tz") or "UTC",
        is_bot=bool(user.get("is_bot")) or user_id == "USLACKBOT",
        keys=tuple(owner_keys(user.get("name"), profile.get("display_name"), user.get("real_name"),
                              profile.get("real_name"), profile.get("email"))),
    )
    remember(store, team_id, member, now)
    return member


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
