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
from bot.core.row_ids import require_row_id
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.decision_edits import DECISION_EDIT_MODAL, edit_origin, save_edit
from bot.handlers.decisions import DECISION_MODAL, InvalidForm, open_form, record, submitted
from bot.handlers.decisions import form_origin as decision_origin
from bot.handlers.review_decisions import decide
from bot.handlers.review_form import REVIEW_MODAL, FormErrors, draft_from, form_origin, opened_from_home
from bot.handlers.reviews import schedule
from bot.handlers.target_actions import review_outcome
from bot.listeners import home
from bot.listeners.commands import ACK_BUDGET_SECONDS, OOPS, SLOW_POOL
from bot.listeners.ids import action_value, body_ids, ctx_for, view_metadata
from bot.listeners.replays import once_per_view
from bot.listeners.target_actions import deliver_now
from bot.listeners.views import plain, view_values
from bot.notify.review_messages import CANCEL, HOLD, POSTPONE, RECORD_DECISION
from bot.services import Services

log = logging.getLogger(__name__)
DECISIONS = {POSTPONE: POSTPONED, HOLD: HELD, CANCEL: CANCELLED}


def register(app: App) -> None:
    for action_id in DECISIONS:
        app.action(action_id)(on_decision)
    app.view(REVIEW_MODAL)(once_per_view(on_review_form))
    app.view_closed(REVIEW_MODAL)(on_review_form_closed)
    app.action(RECORD_DECISION)(on_record_decision)
    app.view(DECISION_MODAL)(on_decision_form)
    app.view(DECISION_EDIT_MODAL)(on_decision_edit_form)


def on_review_form(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any,
                   services: Services) -> None:
    try:
        draft = draft_from(view_values(view))
    except FormErrors as exc:
        ack(response_action="errors", errors={k: plain(v) for k, v in exc.errors.items()})
        return
    channel, alert_id = form_origin(view_metadata(view))
    ctx = ctx_for(services, body, client, channel=channel)
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
    if opened_from_home(view_metadata(view)):
        home.publish(services, client, ctx.team_id, ctx.user_id, f"In <#{ctx.channel_id}>: {text.splitlines()[0]}")
    if alert_id is not None:
        # The alert whose button opened the form now says when the review is, or (the form
        # closed but scheduling failed) no longer that someone is scheduling one.
        scheduled = None if isinstance(outcome, Problem) else outcome.done.get("at")
        if review_outcome(services, alert_id, ctx.user_id, scheduled):
            deliver_now(services)


def on_review_form_closed(ack: Callable, body: dict[str, Any], view: dict[str, Any], services: Services) -> None:
    """The form was closed without submitting (Slack sends view_closed because the alert's form
    sets notify_on_close): take back the alert's "is scheduling a results review" note."""
    ack()
    _, alert_id = form_origin(view_metadata(view))
    if alert_id is not None and review_outcome(services, alert_id, body_ids(body).user or "", None):
        deliver_now(services)


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
        decide(services, require_row_id(action_value(action)), DECISIONS[action["action_id"]], user, ids.team or "", channel)
    except ValueError:
        log.warning("review button with a malformed value from %s", user)
    except Problem as exc:
        problem = exc
    finally:
        ack()
    if problem is not None:
        client.chat_postEphemeral(channel=channel, user=user, text=problem.reply().text)
    # Success needs no reply: the warning is edited to show who decided what.


def on_record_decision(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any,
                       services: Services) -> None:
    """The results message's *Record decision*: open the form (a trigger id lasts 3 s, so first)."""
    ack()
    ids = body_ids(body)
    try:
        open_form(services, client, ids.trigger or "", ids.team or "", ids.channel or "", require_row_id(action_value(action)))
    except ValueError:
        log.warning("record-decision button with a malformed value from %s", ids.user)
    except Problem as problem:
        client.chat_postEphemeral(channel=ids.channel or "", user=ids.user or "", text=problem.reply().text)


def on_decision_form(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any,
                     services: Services) -> None:
    _decision_form(ack, body, view, client, services, decision_origin, record, "This form does not name a review.")


def on_decision_edit_form(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any,
                          services: Services) -> None:
    """`/ready decisions edit <id>`'s form: a refusal (not the recorder, gone) shows in the form."""
    _decision_form(ack, body, view, client, services, edit_origin, save_edit, "This form does not name a decision.")


def _decision_form(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any, services: Services,
                   origin: Callable, save: Callable, unnamed: str) -> None:
    """Both decision forms: a refusal shows in the form (on its field, else on the choice); the
    saved record's ephemeral and message follow the ack."""
    try:
        form = submitted(view)
    except InvalidForm as exc:
        ack(response_action="errors", errors=exc.errors)
        return
    channel, record_id = origin(view_metadata(view))
    ctx = ctx_for(services, body, client, channel=channel)
    try:
        if record_id is None:
            raise Problem(unnamed)
        reply = save(ctx, record_id, form)
    except Problem as problem:
        ack(response_action="errors", errors={problem.extra.get("field", "choice"): plain(problem.message)[:150]})
        return
    ack()
    client.chat_postEphemeral(channel=ctx.channel_id, user=ctx.user_id, text=reply.text)
    deliver_now(services)
