"""The "Keep going" and "Mute for this run" buttons of the unlikely-to-reach message.

Scoped like the target alert buttons (bot.handlers.target_actions): the value names a target
and a run, and a press from another team or channel than the target's changes nothing. The
choice is appended to the message's log and the message edited through the outbox, in one
transaction; the first choice wins, so a double click or a second person edits nothing.
Muting needs no other state: the message's outbox key already makes it the only forecast alert
for that run and target (bot.jobs.forecasts).
"""

from __future__ import annotations

from bot.handlers.target_actions import GONE, NOT_HERE, Outcome, _lock_message, _log_and_edit
from bot.jobs.forecasts import message_key
from bot.notify.forecast_alert import choice
from bot.services import Services
from bot.store.models import Run, Target

ACTIONS = ("keep", "mute")


def parse_value(value: str) -> tuple[int, int] | None:
    target_id, _, run_id = value.partition(":")
    try:
        return int(target_id), int(run_id)
    except ValueError:
        return None


def act(services: Services, action: str, target_id: int, run_id: int, user_id: str, team_id: str,
        channel_id: str) -> Outcome:
    if action not in ACTIONS:
        raise ValueError(f"unknown forecast action {action!r}")
    now = services.clock()
    with services.store.tx() as s:
        target, run = s.get(Target, target_id), s.get(Run, run_id)
        if target is None or run is None:
            return Outcome(False, GONE)
        if (target.team_id, target.channel_id) != (team_id, channel_id):
            return Outcome(False, NOT_HERE)
        message = _lock_message(s, message_key(target_id, run_id))
        if message is None or choice(message.payload or {}) is not None:
            return Outcome(False, channel_id=channel_id)
        _log_and_edit(s, message, {"action": action, "user": user_id, "at": now.isoformat()}, now)
        return Outcome(True, channel_id=channel_id)
