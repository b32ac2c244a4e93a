"""Finding a message a sender posted just before it died.

chat.postMessage has no idempotency key, and marking a row sent happens after the post, so
a sender that dies in between would leave a row that is posted again. Each message carries
its outbox key as message metadata (https://api.slack.com/metadata/using); before a row is
posted again, the channel's recent history is searched for that key. Without history access
this falls back to posting again: at-least-once, never lost.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

EVENT_TYPE = "readybot_notification"
LOOK_BACK = 200  # recent messages searched; a crashed row is retried within minutes


def stamp(key: str) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"key": key}}


def already_posted(client: Any, channel: str, key: str, thread_ts: str | None = None) -> str | None:
    """The ts of the message posted for `key`, if a previous attempt got that far."""
    try:
        if thread_ts:
            resp = client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True,
                                                limit=LOOK_BACK)
        else:
            resp = client.conversations_history(channel=channel, include_all_metadata=True, limit=LOOK_BACK)
    except SlackApiError as exc:
        log.info("cannot check %s for an earlier post (%s); posting again", channel, exc.response.get("error"))
        return None
    for message in resp.get("messages") or []:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == EVENT_TYPE and (metadata.get("event_payload") or {}).get("key") == key:
            return message.get("ts")
    return None


def already_uploaded(client: Any, channel: str, filename: str, thread_ts: str) -> bool:
    """Whether a previous attempt already shared a file of this name in the thread. Files carry no
    message metadata, so the name (one chart per run and metric in an alert's thread) stands in
    for the key. Without history access: False, and the file is shared again rather than lost."""
    try:
        resp = client.conversations_replies(channel=channel, ts=thread_ts, limit=LOOK_BACK)
    except SlackApiError as exc:
        log.info("cannot check %s for an earlier upload (%s); uploading again", channel, exc.response.get("error"))
        return False
    return any(f.get("name") == filename for m in resp.get("messages") or [] for f in m.get("files") or [])
