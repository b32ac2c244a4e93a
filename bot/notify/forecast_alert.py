"""The "unlikely to reach the target" message and its buttons.

Rebuilt from its payload on every send, like the target alert: a choice (keep going, mute,
unmute) is the same payload plus a `log` entry. The first choice ends the warning: Keep going
acknowledges it and takes the buttons away; Mute for this run leaves one button, Unmute (and
unmuting brings back Mute), since the mute itself is stored on the (target, run) progress row.
"Stop run" (action `run_stop`, value = the run's id) is handled by the run-stopping feature.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.forecast import Forecast
from bot.core.forecast_text import describe
from bot.notify.blocks import actions, button
from bot.notify.render import Message, date_token, escape, render

TEMPLATE = "forecast_unlikely"
STOP_BUTTON = "run_stop"
KEEP_BUTTON, MUTE_BUTTON, UNMUTE_BUTTON = "forecast_keep", "forecast_mute", "forecast_unmute"
BUTTONS = (KEEP_BUTTON, MUTE_BUTTON, UNMUTE_BUTTON)  # the ones bot.listeners.forecast_actions handles
MUTING = ("mute", "unmute")


def button_value(target_id: int, run_id: int) -> str:
    return f"{target_id}:{run_id}"


def choice(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The first keep/mute choice made on this message: later presses change nothing."""
    return next((e for e in payload.get("log") or [] if e.get("action") in ("keep", "mute")), None)


def last_muting(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The newest mute or unmute entry: whether the run is muted now, and by whom."""
    return next((e for e in reversed(payload.get("log") or []) if e.get("action") in MUTING), None)


def is_muted(payload: dict[str, Any]) -> bool:
    last = last_muting(payload)
    return last is not None and last["action"] == "mute"


def can_press(payload: dict[str, Any], action: str) -> bool:
    """Whether a press of `action` on this message would change anything (a stale button
    pressed again, or a double click, changes nothing)."""
    chosen = choice(payload)
    if action == "keep":
        return chosen is None
    if chosen is not None and chosen["action"] == "keep":
        return False  # the warning was acknowledged: its buttons are gone
    return is_muted(payload) == (action == "unmute")


def unlikely_message(payload: dict[str, Any]) -> Message:
    chosen = choice(payload)
    message = render(TEMPLATE, **payload, choice=chosen, muting=last_muting(payload))
    run_id = int(payload["run"]["id"])
    value = button_value(int(payload["target_id"]), run_id)
    if chosen is None:
        elements = [button("Stop run", STOP_BUTTON, str(run_id), style="danger"),
                    button("Keep going", KEEP_BUTTON, value),
                    button("Mute for this run", MUTE_BUTTON, value)]
    elif chosen["action"] == "keep":
        return message
    elif is_muted(payload):
        elements = [button("Unmute", UNMUTE_BUTTON, value)]
    else:
        elements = [button("Mute for this run", MUTE_BUTTON, value)]
    message.blocks.append(actions(*elements, block_id=f"forecast_unlikely:{value}"))
    return message


def forecast_line(forecast: Forecast, now: datetime) -> str:
    """The forecast as Slack mrkdwn: run data escaped, times as date tokens (each reader's zone)."""
    tokens: list[str] = []

    def clock(at: datetime, anchor: datetime | None) -> str:
        same_day = anchor is not None and at.date() == anchor.date()
        tokens.append(_time_token(at) if same_day else str(date_token(at)))
        return f"\x00{len(tokens) - 1}\x00"

    text = str(escape(describe(forecast, now, "UTC", clock)))
    for i, token in enumerate(tokens):
        text = text.replace(f"\x00{i}\x00", token)
    return text


def _time_token(at: datetime) -> str:
    """Just the clock, for a range end on the estimate's day."""
    return f"<!date^{int(at.timestamp())}^{{time}}|{at.strftime('%H:%M')} UTC>"
