"""Slack users as schedules need them, asked of Slack: users.info (time zone, bot or human, the
names we match against run owners) and conversations.members. What is learnt is cached by
bot/store/profiles.py, so the store itself never calls Slack."""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.standups import owner_keys
from bot.store.db import Store
from bot.store.profiles import Member, cached_member, remember_all

log = logging.getLogger(__name__)
MAX_MEMBERS = 1000  # a standup for more people than this is not a standup


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
    return fetch_members(client, store, team_id, [user_id], now, fallback)[0]


def fetch_members(client: WebClient, store: Store, team_id: str, user_ids: list[str], now: datetime,
                  fallback: bool = False) -> list[Member | None]:
    """fetch_member for each of `user_ids`, in order: users.info for each (Slack has no batch
    form), and what it said cached in one transaction for all of them."""
    found = [_ask(client, store, team_id, user_id, fallback) for user_id in user_ids]
    remember_all(store, team_id, [m for m, fresh in found if m is not None and fresh], now)
    return [m for m, _fresh in found]


def _ask(client: WebClient, store: Store, team_id: str, user_id: str, fallback: bool) -> tuple[Member | None, bool]:
    """The member as users.info describes them, and whether that is fresh (False: from the cache)."""
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("users.info %s failed: %s", user_id, error)
        if not fallback or error in GONE:
            return None, False
        return cached_member(store, team_id, user_id), False
    if user.get("deleted"):
        return None, False
    profile = user.get("profile") or {}
    member = Member(
        user_id=user_id,
        tz=user.get("tz") or "UTC",
        is_bot=bool(user.get("is_bot")) or user_id == "USLACKBOT",
        keys=tuple(owner_keys(user.get("name"), profile.get("display_name"), user.get("real_name"),
                              profile.get("real_name"), profile.get("email"))),
    )
    return member, True


MAX_CHANNELS = 1000  # a person in more channels than this sees the first thousand on their Home


def member_channel_ids(client: WebClient, user_id: str) -> list[str]:
    """The public and private channels `user_id` is a member of: users.conversations, every page
    (https://api.slack.com/methods/users.conversations; next_cursor is "" on the last page)."""
    channels: list[str] = []
    cursor = None
    while len(channels) < MAX_CHANNELS:
        resp = client.users_conversations(user=user_id, types="public_channel,private_channel",
                                          exclude_archived=True, limit=200, cursor=cursor)
        channels.extend(c["id"] for c in resp.get("channels") or [] if isinstance(c, dict) and c.get("id"))
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return channels[:MAX_CHANNELS]
