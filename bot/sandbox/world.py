"""The sandbox workspace: the users, channels, messages, views and files the fake Slack remembers.

Not thread-safe on its own: FakeSlack holds one lock around every request and every accessor.
Ids and message timestamps come from counters, not the clock, so tests see the same values on
every run.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

TEAM_ID = "T0SANDBOX"
TEAM_NAME = "Sandbox"
TEAM_DOMAIN = "sandbox"
TEAM_URL = f"https://{TEAM_DOMAIN}.slack.com/"
APP_ID = "A0SANDBOX"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
BOT_NAME = "readybot"

# 2024-11-23 13:20 UTC; message ts values count up from here in steps of 100 microseconds.
TS_EPOCH = 1732368000


def dm_id(user_id: str) -> str:
    """The id of the bot's DM channel with a user: fixed per user, as Slack's are."""
    return "D" + user_id


class SlackError(Exception):
    """An `ok: false` answer; `error` is Slack's error code, `extra` more top-level fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class World:
    base_url: str = "http://127.0.0.1/"
    users: dict[str, dict] = field(default_factory=dict)
    channels: dict[str, dict] = field(default_factory=dict)
    messages: dict[str, list[dict]] = field(default_factory=dict)
    ephemerals: list[dict] = field(default_factory=list)
    homes: dict[str, dict] = field(default_factory=dict)
    views: dict[str, dict] = field(default_factory=dict)
    modals: list[dict] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)
    # Whether the app was granted users:read.email: profile emails and users.lookupByEmail need it.
    email_scope: bool = True
    # Tests want the same ts on every run; the demo page shows message times, so it wants the clock.
    realtime: bool = False
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _last_micros: int = 0

    def seed(self) -> None:
        """The default workspace: the bot, one human (U1) and #general (C1), matching SlackSender."""
        self.add_user(BOT_USER_ID, BOT_NAME, is_bot=True)
        self.add_user("U1", "alice", real_name="Alice Example", email="alice@example.com")
        self.add_channel("C1", "general", [BOT_USER_ID, "U1"])

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq):08d}"

    def next_ts(self) -> str:
        micros = next(self._seq) * 100
        if self.realtime:
            # Strictly increasing even within one microsecond: ts is a message's identity.
            self._last_micros = max(int(time.time() * 1_000_000), self._last_micros + 1)
            return f"{self._last_micros // 1_000_000}.{self._last_micros % 1_000_000:06d}"
        return f"{TS_EPOCH + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def add_user(
        self, user_id: str, name: str, tz: str = "UTC", is_bot: bool = False, real_name: str | None = None,
        is_admin: bool = False, is_owner: bool = False, email: str | None = None,
    ) -> dict:
        ZoneInfo(tz)  # an unknown zone fails here, where the test named it, not in users.info
        # The role flags of https://api.slack.com/methods/users.info (a User object): an owner is
        # also an admin there, and only one owner is the primary owner.
        self.users[user_id] = {
            "id": user_id, "team_id": TEAM_ID, "name": name, "real_name": real_name or name,
            "tz": tz, "is_bot": is_bot, "deleted": False, "is_admin": is_admin or is_owner,
            "is_owner": is_owner, "is_primary_owner": False, "is_restricted": False,
            "is_ultra_restricted": False, "is_app_user": False, "email": email,
        }
        return self.users[user_id]

    def add_channel(self, channel_id: str, name: str, members: list[str] | tuple = (),
                    is_private: bool = False) -> dict:
        self.channels[channel_id] = {
            "id": channel_id, "name": name, "is_channel": not is_private, "is_group": False,
            "is_im": False, "is_private": is_private, "is_archived": False, "members": list(members),
        }
        self.messages.setdefault(channel_id, [])
        return self.channels[channel_id]

    def user(self, user_id: str | None) -> dict:
        if user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    def channel(self, channel_id: str | None) -> dict:
        """A channel by id; a user id means that user's DM, as chat.postMessage allows."""
        if channel_id in self.users:
            return self.open_dm(channel_id)
        if channel_id not in self.channels:
            raise SlackError("channel_not_found")
        return self.channels[channel_id]

    def open_dm(self, user_id: str) -> dict:
        self.user(user_id)
        if dm_id(user_id) not in self.channels:
            channel = self.add_channel(dm_id(user_id), user_id, [BOT_USER_ID, user_id])
            channel.update(is_channel=False, is_im=True, is_private=True, user=user_id)
        return self.channels[dm_id(user_id)]

    def post(self, channel_id: str, fields: dict) -> dict:
        """Append a bot message to a channel; `fields` are text, blocks, thread_ts, files..."""
        message = {
            "type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID,
            "team": TEAM_ID, "ts": self.next_ts(),
        }
        message.update({k: v for k, v in fields.items() if v not in (None, "")})
        self.messages.setdefault(channel_id, []).append(message)
        return message

    def message(self, channel_id: str, ts: str | None) -> dict:
        for message in self.messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")

    def delete(self, channel_id: str, ts: str) -> None:
        self.messages[channel_id].remove(self.message(channel_id, ts))

    def view(self, view_id: str | None, external_id: str | None) -> dict:
        for view in self.views.values():
            if view["id"] == view_id or (external_id and view.get("external_id") == external_id):
                return view
        raise SlackError("not_found")
