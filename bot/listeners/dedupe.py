"""Slack delivers an event again when our ack was slow (X-Slack-Retry-Num), even while the
first delivery is still being handled. Remember each event id once, in the database, so
every replica agrees; a repeat is acked and dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from bot.listeners.ids import body_ids
from bot.services import Services
from bot.store import dedupe as seen

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.middleware(drop_repeats)


def drop_repeats(body: dict[str, Any], next: Callable[[], Any], services: Services) -> Any:  # noqa: A002 - Bolt's name
    key = request_key(body)
    if key and not first_time(services, key):
        log.info("dropping repeated delivery %s", key)
        return BoltResponse(status=200, body="")
    return next()


def request_key(body: dict[str, Any]) -> str | None:
    if body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("type") == "block_actions":
        actions = body.get("actions") if isinstance(body.get("actions"), list) else []
        stamps = [a.get("action_ts") for a in actions if isinstance(a, dict) and a.get("action_ts")]
        if stamps:
            return f"action:{body_ids(body).user}:{stamps[0]}"
    return None


def first_time(services: Services, key: str) -> bool:
    """A database that cannot record the key lets the request through: a rare double delivery
    is better than a 500, and the listener has error handling of its own that can tell the user."""
    try:
        return seen.first_time(services.store, key, services.clock())
    except Exception as exc:
        log.warning("could not record delivery %s (%s); handling it anyway", key, type(exc).__name__)
        return True
