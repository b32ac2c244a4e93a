"""The Stop run button (bot.handlers.run_stop does the work). Slack's confirm dialog has already
asked "Stop this run?" on the clicker's screen: a click that arrives here is the confirmed one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.core.row_ids import row_id
from bot.handlers.run_stop import reason_for, reason_of, stop
from bot.listeners.ids import action_value, body_ids, message_ts
from bot.listeners.target_actions import deliver_now
from bot.notify.blocks import STOP_RUN
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(STOP_RUN)(on_stop_button)


def on_stop_button(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any,
                   services: Services) -> None:
    ack()
    ids = body_ids(body)
    run_id = row_id(action_value(action))
    if run_id is None:
        log.warning("stop button with a bad value")
        return
    team, channel, user = ids.team or "", ids.channel or "", ids.user or ""
    ts = message_ts(body)
    reason = reason_of(action.get("block_id")) or reason_for(services, channel, ts)
    outcome = stop(services, run_id, user, team, channel, reason, ts)
    if channel:
        client.chat_postEphemeral(channel=channel, user=user, text=outcome.notice)
    if outcome.sent or ts:  # the channel message, or the clicked message's edit
        deliver_now(services)
