"""The review warning's buttons (Postpone to ETA, Meet as planned, Cancel review) and the review form.

A decision is one quick transaction, made before the ack. The form acks first: scheduling may
ask a tracker about runs the channel does not track yet, which can take longer than Slack's 3 s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from slack_bolt import App

from bot.core.reviews import CANCELLED, HELD, POSTPONED
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.review_decisions import decide
from bot.handlers.review_form import REVIEW_MODAL, FormErrors, draft_from
from bot.handlers.reviews import schedule
from bot.listeners.commands import ACK_BUDGET_SECONDS, OOPS, SLOW_POOL
from bot.listeners.ids import action_value, body_ids, ctx_for, view_metadata
from bot.listeners.views import plain, view_values
from bot.notify.review_messages import CANCEL, HOLD, POSTPONE
from bot.services import Services

log = logging.getLogger(__name__)
DECISIONS = {POSTPONE: POSTPONED, HOLD: HELD, CANCEL: CANCELLED}


def register(app: App) -> None:
    for action_id in DECISIONS:
        app.action(action_id)(on_decision)
    app.view(REVIEW_MODAL)(on_review_form)


def on_review_form(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any,
                   services: Services) -> None:
    try:
        draft = draft_from(view_values(view))
    except FormErrors as exc:
        ack(response_action="errors", errors={k: plain(v) for k, v in exc.errors.items()})
        return
    ctx = ctx_for(services, body, client, channel=view_metadata(view))
    # Scheduling may ask a tracker. When it answers within the ack budget, a refusal is shown
    # inside the form (nothing the user typed is lost); otherwise the form closes and the
    # outcome arrives as an ephemeral message.
    future = SLOW_POOL.submit(_attempt, ctx, draft)
    try:
        outcome = future.result(timeout=ACK_BUDGET_SECONDS)
    except FutureTimeout:
        ack()
        outcome = future.result()
    else:
        if isinstance(outcome, Problem):
            field = outcome.extra.get("field", "runs")
            ack(response_action="errors", errors={field: plain(outcome.message)[:300]})
            return
        ack()
    text = outcome.reply().text if isinstance(outcome, Problem) else outcome.text
    client.chat_postEphemeral(channel=ctx.channel_id, user=ctx.user_id, text=text)


def _attempt(ctx: Ctx, draft: Any) -> Reply | Problem:
    """Schedule from the form; a refusal comes back as the Problem, to be shown in the form."""
    try:
        return schedule(ctx, draft)
    except Problem as problem:
        return problem
    except Exception:
        log.exception("scheduling a review from the form failed")
        return Reply(OOPS)


def on_decision(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any,
                services: Services) -> None:
    """Postpone, meet as planned or cancel: the button's action id says which."""
    ids = body_ids(body)
    user, channel = ids.user or "", ids.channel or ""
    # A decision is one short transaction: made before the ack, so the click's answer means done.
    problem = None
    try:
        decide(services, int(action_value(action)), DECISIONS[action["action_id"]], user, ids.team or "", channel)
    except ValueError:
        log.warning("review button with a malformed value from %s", user)
    except Problem as exc:
        problem = exc
    finally:
        ack()
    if problem is not None:
        client.chat_postEphemeral(channel=channel, user=user, text=problem.reply().text)
    # Success needs no reply: the warning is edited to show who decided what.
