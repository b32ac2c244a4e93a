"""The "Keep going", "Mute for this run" and "Unmute" buttons of the unlikely-to-reach message.

Scoped like the target alert buttons (bot.handlers.target_actions): the value names a target
and a run, and a press from another team or channel than the target's changes nothing. The
choice is appended to the message's log and the message edited through the outbox, in one
transaction; a press that would change nothing (a double click, a stale button) edits nothing.

Keep going only acknowledges the warning, and anyone in the channel may say it. Muting stops
every later alert of the target about that run (target reached, unlikely to reach: see
bot.jobs.targets and bot.jobs.forecasts), so it is stored on the (target, run) progress row and
is for the target's creator, whoever muted it (to unmute), or a workspace admin
(bot.handlers.permissions); the permission is asked before the transaction, since it may ask Slack.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.row_ids import row_id
from bot.handlers import permissions
from bot.handlers.base import Problem
from bot.handlers.target_actions import GONE, NOT_HERE, Outcome, _lock_message, _log_and_edit
from bot.jobs.forecasts import message_key
from bot.notify.forecast_alert import MUTING, can_press
from bot.notify.render import escape
from bot.services import Services
from bot.store import targets as store
from bot.store.models import Outbox, Run, Target
from bot.store.models import TargetProgress as TargetProgressRow

ACTIONS = ("keep", "mute", "unmute")


def parse_value(value: str) -> tuple[int, int] | None:
    target, _, run = value.partition(":")
    target_id, run_id = row_id(target), row_id(run)
    return (target_id, run_id) if target_id is not None and run_id is not None else None


def act(services: Services, action: str, target_id: int, run_id: int, user_id: str, team_id: str,
        channel_id: str) -> Outcome:
    if action not in ACTIONS:
        raise ValueError(f"unknown forecast action {action!r}")
    with services.store.tx() as s:
        found = _find(s, target_id, run_id, team_id, channel_id, lock=False)
        if isinstance(found, Outcome):
            return found
        target, run, message = found
        if not can_press(message.payload or {}, action):
            return Outcome(False, channel_id=channel_id)
        progress = s.get(TargetProgressRow, (target_id, run_id))
        allowed = [target.created_by or "", (progress.muted_by if progress else None) or ""]
        what = f"{action} target #{target_id} for run *{escape(run.name or run.ref)}*"
    if action in MUTING:
        try:
            permissions.require_one_of(services, team_id, user_id, allowed, what, "who set the target or muted it")
        except Problem as refused:
            return Outcome(False, refused.reply().text, channel_id=channel_id)
    now = services.clock()
    with services.store.tx() as s:
        found = _find(s, target_id, run_id, team_id, channel_id, lock=True)
        if isinstance(found, Outcome):
            return found
        _, _, message = found
        if not can_press(message.payload or {}, action):  # someone else pressed first
            return Outcome(False, channel_id=channel_id)
        if action in MUTING:
            row = store.lock_progress(s, target_id, run_id)
            row.muted_by, row.muted_at = (user_id, now) if action == "mute" else (None, None)
        _log_and_edit(s, message, {"action": action, "user": user_id, "at": now.isoformat()}, now)
        return Outcome(True, channel_id=channel_id)


def _find(s: Session, target_id: int, run_id: int, team_id: str, channel_id: str,
          lock: bool) -> tuple[Target, Run, Outbox] | Outcome:
    """The target, run and message a press names, or the Outcome that says why nothing changes."""
    target, run = s.get(Target, target_id), s.get(Run, run_id)
    if target is None or run is None:
        return Outcome(False, GONE)
    if (target.team_id, target.channel_id) != (team_id, channel_id):
        return Outcome(False, NOT_HERE)
    key = message_key(target_id, run_id)
    message = _lock_message(s, key) if lock else s.scalar(select(Outbox).where(Outbox.dedupe_key == key))
    if message is None:
        return Outcome(False, channel_id=channel_id)
    return target, run, message
