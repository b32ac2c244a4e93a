"""Buttons on target alerts (bot.handlers.target_actions does the work).

Ack first (Slack wants it within 3 s), then open the review modal before anything slower: its
trigger_id expires 3 s after the click.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.handlers.target_actions import act, review_prefill
from bot.notify.dispatch import Dispatcher
from bot.notify.render import escape
from bot.services import Services

log = logging.getLogger(__name__)

ACTION_IDS = re.compile(r"^target_(review|snooze|mute|ack)$")
REVIEW_CALLBACK = "review_modal"


def register(app: App, services: Services) -> None:
    @app.action(ACTION_IDS)
    def on_target_button(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        kind = ACTION_IDS.fullmatch(action.get("action_id", ""))[1]
        user_id = body.get("user", {}).get("id", "")
        channel_id = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
        try:
            alert_id = int(action.get("value") or "")
        except ValueError:
            log.warning("target button %s with a bad value", kind)
            return
        if kind == "review" and not open_review(services, client, body.get("trigger_id"), alert_id):
            return
        outcome = act(services, kind, alert_id, user_id)
        if outcome.notice and channel_id:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=outcome.notice)
        if outcome.changed:
            deliver_now(services)


def open_review(services: Services, client: Any, trigger_id: str | None, alert_id: int) -> bool:
    """Open the review modal; False when it could not open (then the channel is not told that
    someone is scheduling a review). A removed target opens nothing but lets act() say so."""
    prefill = review_prefill(services, alert_id)
    if prefill.notice is not None:
        return True
    try:
        client.views_open(trigger_id=trigger_id, view=review_view(prefill.channel_id, prefill.run_refs))
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
        log.exception("immediate delivery after a target button failed")


# Where the review form (issue 5) may live; looked up at click time, so it is used once it lands.
REVIEW_FORM_MODULES = ("bot.handlers.reviews", "bot.handlers.review_form")


def review_view(channel_id: str, refs: list[str]) -> dict[str, Any]:
    """The review modal of issue 5 when it exists; otherwise a minimal one with the same
    callback_id, carrying the channel and runs in private_metadata."""
    for name in REVIEW_FORM_MODULES:
        try:
            make = importlib.import_module(name).review_modal_view
        except (ImportError, AttributeError):
            continue
        return make(channel_id, refs)
    return minimal_review_view(channel_id, refs)


def minimal_review_view(channel_id: str, refs: list[str]) -> dict[str, Any]:
    runs = ", ".join(f"`{escape(r)}`" for r in refs)
    return {
        "type": "modal",
        "callback_id": REVIEW_CALLBACK,
        "private_metadata": json.dumps({"channel_id": channel_id, "runs": refs})[:3000],
        "title": {"type": "plain_text", "text": "Results review"},
        "submit": {"type": "plain_text", "text": "Schedule"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"Runs: {runs}"[:3000]}},
            {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
             "element": {"type": "plain_text_input", "action_id": "title", "initial_value": "Results review"}},
            {"type": "input", "block_id": "when", "label": {"type": "plain_text", "text": "When"},
             "element": {"type": "datetimepicker", "action_id": "when"}},
        ],
    }
