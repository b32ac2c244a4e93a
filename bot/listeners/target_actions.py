"""Buttons on target alerts (bot.handlers.target_actions does the work).

Ack first (Slack wants it within 3 s), then open the review modal before anything slower: its
trigger_id expires 3 s after the click.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.core.row_ids import row_id
from bot.handlers.review_form import review_modal_view
from bot.handlers.target_actions import act, review_prefill
from bot.listeners.ids import action_value, body_ids
from bot.notify.dispatch import Dispatcher
from bot.notify.target_alert import ACTION_PREFIX, BUTTONS, REVIEW_BUTTON
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: App) -> None:
    for action_id in BUTTONS:
        app.action(action_id)(on_target_button)


def on_target_button(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any,
                     services: Services) -> None:
    ack()
    action_id = action["action_id"]
    kind = action_id.removeprefix(ACTION_PREFIX)
    ids = body_ids(body)
    user_id = ids.user or ""
    alert_id = row_id(action_value(action))
    if alert_id is None:
        log.warning("target button %s with a bad value", kind)
        return
    team, channel = ids.team or "", ids.channel or ""
    if action_id == REVIEW_BUTTON and not open_review(services, client, ids.trigger, alert_id, team, channel):
        return
    outcome = act(services, kind, alert_id, user_id, team, channel)
    if outcome.notice and ids.channel:
        client.chat_postEphemeral(channel=ids.channel, user=user_id, text=outcome.notice)
    if outcome.changed:
        deliver_now(services)


def open_review(services: Services, client: Any, trigger_id: str | None, alert_id: int, team_id: str,
                channel_id: str) -> bool:
    """Open the review modal; False when it could not open (then the channel is not told that
    someone is scheduling a review). A removed target, or an alert of another channel, opens
    nothing but lets act() say so."""
    prefill = review_prefill(services, alert_id, team_id, channel_id)
    if prefill.notice is not None:
        return True
    try:
        client.views_open(trigger_id=trigger_id,
                          view=review_modal_view(prefill.channel_id, prefill.run_refs, alert_id=alert_id))
    except SlackApiError as exc:  # expired_trigger_id after a slow click, most likely
        log.warning("could not open the review modal: %s", exc.response.get("error"))
        return False
    return True


def deliver_now(services: Services) -> None:
    """The edit is already committed to the outbox; sending it now instead of at the dispatcher's
    next tick shows the click's effect at once. Claims are exclusive, so this never races the
    scheduled dispatcher into a double edit, and a failure leaves the row for it to retry."""
    try:
        Dispatcher(services.store, services.clients, services.clock).run_once()
    except Exception:  # noqa: BLE001 - the scheduled dispatcher will deliver it
        log.exception("immediate delivery after a click failed")
