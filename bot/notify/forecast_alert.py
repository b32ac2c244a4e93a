"""The "unlikely to reach the target" message and its buttons.

Rebuilt from its payload on every send, like the target alert: a choice (keep going, mute) is
the same payload plus a `log` entry, and once someone chose, the buttons are gone.
"Stop run" (action `run_stop`, value = the run's id) is handled by the run-stopping feature.
"""

from __future__ import annotations

from typing import Any

from bot.notify.blocks import actions, button
from bot.notify.render import Message, render

TEMPLATE = "forecast_unlikely"
STOP_BUTTON = "run_stop"
KEEP_BUTTON, MUTE_BUTTON = "forecast_keep", "forecast_mute"
BUTTONS = (KEEP_BUTTON, MUTE_BUTTON)  # the ones bot.listeners.forecast_actions handles


def button_value(target_id: int, run_id: int) -> str:
    return f"{target_id}:{run_id}"


def choice(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The first keep/mute choice made on this message: later presses change nothing."""
    return next((e for e in payload.get("log") or [] if e.get("action") in ("keep", "mute")), None)


def unlikely_message(payload: dict[str, Any]) -> Message:
    chosen = choice(payload)
    message = render(TEMPLATE, **payload, choice=chosen)
    if chosen is None:
        run_id = int(payload["run"]["id"])
        value = button_value(int(payload["target_id"]), run_id)
        message.blocks.append(actions(
            button("Stop run", STOP_BUTTON, str(run_id), style="danger"),
            button("Keep going", KEEP_BUTTON, value),
            button("Mute for this run", MUTE_BUTTON, value),
            block_id=f"forecast_unlikely:{value}"))
    return message
