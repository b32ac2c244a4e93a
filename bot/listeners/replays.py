"""Replays and double submissions create nothing twice (issue 12, item 8).

Slack signs a request over `v0:{timestamp}:{body}` and Bolt accepts it for five minutes
(https://api.slack.com/authentication/verifying-requests-from-slack), so whoever sees a signed
request can send it again within that window. And a user who clicks a modal's Submit several
times sends one view_submission per click, all for the same view. So:

- a command that changes something is done once per signed request: its key is the request's
  timestamp and body hash (set by the HTTP edge, bot/web.py; Socket Mode deliveries have no
  signature to replay and no key);
- a modal is submitted once per view id and hash (the hash changes whenever the view does).

Keys live in seen_requests, whose primary key makes the claim race-safe on every replica. A
request that was refused (bad input, or a failure) changed nothing and gives its key back, so the
user can fix the form and submit again.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from bot import commands as c
from bot.handlers.base import Ctx, Reply
from bot.services import Services
from bot.store import dedupe as seen

REPLAY_KEY = "readybot_replay_key"  # the BoltContext key the edge fills in
ALREADY = ":information_source: Already done: this exact request arrived before, and was not done twice."
# Commands that only show something: repeating them repeats nothing.
READS = (c.Help, c.Runs, c.ReviewList, c.TargetList, c.ConnectModal, c.ReviewModal, c.Me)


def signed_request_key(timestamp: str, raw_body: str) -> str:
    digest = hashlib.sha256(raw_body.encode("utf-8", "surrogatepass")).hexdigest()
    return f"signed:{timestamp}:{digest}"


def command_key(context: Any, cmd: Any) -> str | None:
    """The key a command claims, None when it needs none."""
    if isinstance(cmd, READS) or not hasattr(context, "get"):
        return None
    key = context.get(REPLAY_KEY)
    return key if isinstance(key, str) else None


def claim(services: Services, key: str | None) -> bool:
    """True when this request may go ahead (no key, or the first time the key is seen)."""
    return key is None or seen.first_time(services.store, key, services.clock())


def release(services: Services, key: str | None) -> None:
    if key is not None:
        seen.forget(services.store, key)


def giving_back(services: Services, key: str | None,
                handler: Callable[[Ctx, Any], Reply]) -> Callable[[Ctx, Any], Reply]:
    """The handler, giving its key back when it refuses or fails (then it changed nothing)."""
    if key is None:
        return handler

    def run(ctx: Ctx, cmd: Any) -> Reply:
        try:
            return handler(ctx, cmd)
        except BaseException:
            release(services, key)
            raise

    return run


def view_key(body: Any) -> str | None:
    view = body.get("view") if isinstance(body, dict) else None
    if not isinstance(view, dict) or not isinstance(view.get("id"), str) or not view["id"]:
        return None
    team = body.get("team")
    team_id = team.get("id") if isinstance(team, dict) else None
    return f"view:{team_id}:{view['id']}:{view.get('hash')}"[:255]


def once_per_view(listener: Callable[..., None]) -> Callable[..., None]:
    """A view_submission listener run once per submitted view; repeats are acked and dropped.

    The listener must name `ack`, `body` and `services` (Bolt injects by parameter name, read
    through functools.wraps). Its key is given back when it answers with field errors or fails.
    """

    @functools.wraps(listener)
    def run(**kwargs: Any) -> None:
        services, ack = kwargs["services"], kwargs["ack"]
        key = view_key(kwargs["body"])
        if not claim(services, key):
            ack()
            return
        refused = False

        def ack_and_note(*args: Any, **fields: Any) -> Any:
            nonlocal refused
            refused = refused or fields.get("response_action") == "errors"
            return ack(*args, **fields)

        try:
            listener(**{**kwargs, "ack": ack_and_note})
        except BaseException:
            release(services, key)
            raise
        if refused:
            release(services, key)

    return run

