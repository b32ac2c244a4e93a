"""Can readybot post where a command just set something up? A private channel it was not
invited to, or someone else's DM, would swallow every later notification silently, so the
reply says so at once. When Slack cannot tell (an error other than channel_not_found), nothing
is said: the check must never get in the way of the command itself."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

CANNOT_POST = (
    "\n:warning: I can't post in this conversation, so its notifications would be lost. "
    "In a private channel, invite me with `/invite @readybot`; or run this in a channel I can reach."
)


def reach_warning(client: Any, channel_id: str) -> str:
    if client is None or not channel_id:
        return ""
    try:
        channel = client.conversations_info(channel=channel_id).get("channel") or {}
    except SlackApiError as exc:
        return CANNOT_POST if exc.response.get("error") == "channel_not_found" else ""
    except Exception:  # noqa: BLE001 - Slack unreachable: say nothing, the command stands
        log.info("could not check channel %s", channel_id)
        return ""
    if channel.get("is_private") and not channel.get("is_im") and channel.get("is_member") is False:
        return CANNOT_POST
    return ""
