"""A user's Slack time zone, for reading the times they type (`at fri 14:00`).

users.info is asked at most once a day per user (bot.store.profiles keeps the answer in
UserProfile, shared by every replica). When Slack cannot be asked, the last known zone, or
UTC, is used.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.services import Services
from bot.slack_members import fetch_member
from bot.store.models import UserProfile
from bot.store.profiles import FRESH


def user_zone(services: Services, client, team_id: str, user_id: str) -> ZoneInfo:  # noqa: ANN001
    return zone_of_user(services, client, team_id, user_id)[0]


def zone_of_user(services: Services, client, team_id: str, user_id: str) -> tuple[ZoneInfo, bool]:  # noqa: ANN001
    """The user's zone, and whether it is really theirs: False when Slack could not tell us
    and nothing is cached, so UTC stands in (callers say so: see UNKNOWN_ZONE)."""
    now = services.clock()
    with services.store.tx() as s:
        profile = s.get(UserProfile, (team_id, user_id))
        known = profile.tz if profile else None
        fresh = profile is not None and now - profile.fetched_at < FRESH
    if fresh and known:
        return _zone(known), True
    member = fetch_member(client, services.store, team_id, user_id, now) if client is not None else None
    if member is not None or known:
        return _zone(member.tz if member else known), True
    return ZoneInfo("UTC"), False


UNKNOWN_ZONE = ":warning: Slack did not tell me your time zone (users.info failed), so I read the time as UTC."


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
