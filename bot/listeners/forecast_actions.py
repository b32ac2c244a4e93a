"""Buttons on the unlikely-to-reach message (bot.handlers.forecast_actions does the work).
"Stop run" (run_stop) is registered by the run-stopping feature, not here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.handlers.forecast_actions import act, parse_value
from bot.listeners.ids import action_value, body_ids
from bot.listeners.target_actions import deliver_now
from bot.notify.forecast_alert import BUTTONS
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: App) -> None:
    for action_id in BUTTONS:
        app.action(action_id)(on_forecast_button)


def on_forecast_button(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any,
                       services: Services) -> None:
    ack()
    kind = action["action_id"].removeprefix("forecast_")
    ids = body_ids(body)
    pair = parse_value(action_value(action))
    if pair is None:
        log.warning("forecast button %s with a bad value", kind)
        return
    user_id = ids.user or ""
    outcome = act(services, kind, pair[0], pair[1], user_id, ids.team or "", ids.channel or "")
    if outcome.notice and ids.channel:
        client.chat_postEphemeral(channel=ids.channel, user=user_id, text=outcome.notice)
    if outcome.changed:
        deliver_now(services)
