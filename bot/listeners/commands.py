"""The /ready slash command: parse, route to a handler, answer ephemerally. Never errors out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from slack_bolt import App, BoltResponse

from bot import commands as c
from bot.commands import ParseError, parse
from bot.handlers.base import Ctx, Problem, Reply, usage_text
from bot.handlers.connections import connect_url
from bot.handlers.reach import reach_warning
from bot.handlers.routes import route
from bot.listeners import replays
from bot.listeners.ids import ctx_for
from bot.metrics import COMMANDS
from bot.notify.render import escape
from bot.services import Services

log = logging.getLogger(__name__)

# Commands after which the channel expects notifications: worth checking the bot can post there.
SUBSCRIBING = (c.Track, c.TargetAdd, c.ReviewAdd, c.StandupAt, c.DigestAt)
ACK_BUDGET_SECONDS = 2.0  # leaves a margin under Slack's 3 s for the HTTP round trip
SLOW_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ready-slow")

OOPS = ":x: Something went wrong on our side; nothing was changed. Please try again in a minute."


def register(app: App) -> None:
    app.middleware(answer_in_request_thread)
    app.command("/ready")(on_ready)


def answer_in_request_thread(body: dict[str, Any], client: Any, services: Services, context: Any,
                             next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
    """A /ready command whose reply is its ack (a route not marked slow) is answered here, in
    the request's own thread, after Bolt's signature and authorization middleware: Bolt would
    run its listener on another thread and look for the ack every 10 ms
    (slack_bolt/listener/thread_runner.py), which measured as much CPU per `/ready help` as the
    help itself, plus the wait. Slow commands (they call trackers) go on to on_ready, which acks
    them within Slack's 3 s."""
    if body.get("command") != "/ready" or "type" in body:
        return next()
    reply = quick_reply(body, client, services, context)
    if reply is None:
        return next()
    body = reply.as_json()
    return BoltResponse(status=200, body=body, headers={"content-type": "application/json;charset=utf-8"} if body else {})


def quick_reply(command: dict[str, Any], client: Any, services: Services, context: Any = None) -> Reply | None:
    """The reply to a command that is answered in its ack; None for a slow one. A replayed
    request that changes something is done once (bot/listeners/replays.py)."""
    cmd = parse(command.get("text") or "")
    if isinstance(cmd, ParseError):
        COMMANDS.labels("ParseError", "refused").inc()
        return parse_error_reply(cmd)
    handler, slow = route(cmd)
    if slow:
        return None
    key = replays.command_key(context, cmd)
    refused = refused_replay(services, key, cmd)
    if refused is not None:
        return refused
    return run_handler(replays.giving_back(services, key, handler), ctx_for(services, command, client), cmd)


def on_ready(ack: Callable, command: dict[str, Any], respond: Callable, client: Any, services: Services,
             context: Any = None) -> None:
    reply = quick_reply(command, client, services, context)
    if reply is not None:
        ack(**reply.as_response())
        return
    cmd = parse(command.get("text") or "")
    key = replays.command_key(context, cmd)
    refused = refused_replay(services, key, cmd)
    if refused is not None:
        ack(**refused.as_response())
        return
    ctx = ctx_for(services, command, client)
    handler = replays.giving_back(services, key, route(cmd)[0])
    # Slow handlers talk to trackers or Slack. Slack wants an ack within 3 s: answer in the
    # ack when the work is done in time, otherwise ack now saying what we are doing, and
    # replace that same reply with the outcome through response_url, so the answer lands where
    # the command was asked instead of after whatever the user typed next
    # (https://api.slack.com/interactivity/handling#message_responses).
    future = SLOW_POOL.submit(run_handler, handler, ctx, cmd)
    try:
        reply = future.result(timeout=ACK_BUDGET_SECONDS)
    except FutureTimeout:
        ack(**Reply(working_text(cmd)).as_response())
        body = future.result().as_response() or Reply(":white_check_mark: Done.").as_response()
        respond(**body, replace_original=True)
        return
    ack(**reply.as_response())


WORKING = ":hourglass_flowing_sand:"  # how every such reply starts


def working_text(cmd: Any) -> str:
    """The reply a slow command shows until its outcome replaces it."""
    if isinstance(cmd, c.Connect):
        return f"{WORKING} Checking {escape(connect_url(cmd))}…"
    return f"{WORKING} Working on it…"


def parse_error_reply(err: ParseError) -> Reply:
    # The message quotes what the user typed (`<!channel>` must not become a mention) and
    # names placeholders like `<when>`: all of it is shown as written.
    return Reply(f":warning: {escape(err.message)}{usage_text(err.usage)}")


def refused_replay(services: Services, key: str | None, cmd: Any) -> Reply | None:
    """None when the command may go ahead; else what to answer: it was done already, or the
    database failed the claim (which runs before the handler, so outside run_handler's care)."""
    try:
        return None if replays.claim(services, key) else Reply(replays.ALREADY)
    except Exception:
        COMMANDS.labels(type(cmd).__name__, "error").inc()
        log.exception("/ready %s: its replay check failed", type(cmd).__name__)
        return Reply(OOPS)


def run_handler(handler: Callable[[Ctx, Any], Reply], ctx: Ctx, cmd: Any) -> Reply:
    name = type(cmd).__name__
    try:
        reply = handler(ctx, cmd)
        COMMANDS.labels(name, "ok").inc()
        if isinstance(cmd, SUBSCRIBING):
            reply.text += reach_warning(ctx.client, ctx.channel_id)
        return reply
    except Problem as problem:
        COMMANDS.labels(name, "refused").inc()
        return problem.reply()
    except Exception:
        COMMANDS.labels(name, "error").inc()
        # The command object may hold a tracker key: log its type, never its fields.
        log.exception("/ready %s failed", type(cmd).__name__)
        return Reply(OOPS)
