"""The buttons on a target alert: schedule a review, snooze 1h, mute the target, acknowledge.

Each press changes the stored state and, in the same transaction, appends who-did-what to the
alert message's payload and queues an outbox `update` row (parent_key = the alert message) that
edits the message in place. Going through the outbox rather than calling chat.update from the
listener means the edit cannot be lost once the state change is committed: the dispatcher
retries it (honouring Retry-After) like every other message, and the dedupe key per log entry
keeps a redelivered payload from editing twice.

A press acts only on an alert of the team and channel it came from: the button's value is a row
id, and a payload from another workspace or channel naming it must change nothing (issue 12).

Every action is idempotent, because a double click arrives as two payloads with different
action_ts values that the request dedupe cannot tell apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.notify.outbox import edit
from bot.notify.target_alert import REVIEW_STEPS
from bot.services import Services
from bot.store import targets as store
from bot.store.models import Alert, Connection, Outbox, Run, Target

ACTIONS = ("review", "snooze", "mute", "ack")
SNOOZE = timedelta(hours=1)
REPEAT_WINDOW = timedelta(minutes=1)  # a second snooze this soon is the same click twice
GONE = "That alert's target was removed, so there is nothing to change."
NOT_HERE = ":warning: That alert belongs to another channel; nothing was changed."
Log = list[dict[str, Any]]  # who did what on one alert message, oldest first


@dataclass
class Outcome:
    changed: bool
    notice: str | None = None  # said to the clicker alone (ephemeral)
    channel_id: str = ""
    run_refs: list[str] = field(default_factory=list)  # `<conn>:<run-id>` of the alert's run


@dataclass
class Found:
    alert: Alert
    target: Target
    run: Run
    conn: Connection


def review_prefill(services: Services, alert_id: int, team_id: str, channel_id: str) -> Outcome:
    """Channel and run of an alert, to prefill the review modal (read only: the modal opens first)."""
    with services.store.tx() as s:
        found = _find(s, alert_id)
        if found is None:
            return Outcome(False, GONE)
        if not _here(found, team_id, channel_id):
            return Outcome(False, NOT_HERE)
        return Outcome(False, channel_id=found.target.channel_id, run_refs=[_ref(found)])


def act(services: Services, action: str, alert_id: int, user_id: str, team_id: str, channel_id: str) -> Outcome:
    """Press `action` on the alert, as `user_id` clicking in (team_id, channel_id)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown target action {action!r}")
    now = services.clock()
    with services.store.tx() as s:
        found = _find(s, alert_id)
        if found is None:
            return Outcome(False, GONE)
        if not _here(found, team_id, channel_id):
            return Outcome(False, NOT_HERE)
        message = _lock_message(s, found.alert.message_key)
        log = (message.payload or {}).get("log", []) if message is not None else []
        note = APPLY[action](s, found, user_id, now, log)
        if note is not None and message is not None:
            _log_and_edit(s, message, {"alert_id": alert_id, "action": action, "user": user_id, **note}, now)
        return Outcome(note is not None, channel_id=found.target.channel_id, run_refs=[_ref(found)])


def _find(s: Session, alert_id: int) -> Found | None:
    alert = s.get(Alert, alert_id)
    if alert is None:
        return None
    target, run = s.get(Target, alert.target_id), s.get(Run, alert.run_id)
    conn = s.get(Connection, run.connection_id) if run else None
    if target is None or run is None or conn is None:
        return None
    return Found(alert, target, run, conn)


def _here(found: Found, team_id: str, channel_id: str) -> bool:
    """The alert's target belongs to the team and channel the click came from."""
    return (found.target.team_id, found.target.channel_id) == (team_id, channel_id)


def _ref(found: Found) -> str:
    return f"{found.conn.name}:{found.run.ref}"


def _lock_message(s: Session, key: str | None) -> Outbox | None:
    """The alert message's outbox row, locked so two clicks at once append to one log in turn."""
    if key is None:
        return None
    query = select(Outbox).where(Outbox.dedupe_key == key).with_for_update()
    return s.scalars(query.execution_options(populate_existing=True)).first()


# Each returns the log entry's extra fields, or None when the press changes nothing.


def _acknowledge(s: Session, found: Found, user_id: str, now: datetime, log: Log) -> dict[str, Any] | None:
    if found.alert.acknowledged_by:
        return None
    found.alert.acknowledged_by = user_id
    return {"at": now.isoformat()}


def _snooze(s: Session, found: Found, user_id: str, now: datetime, log: Log) -> dict[str, Any] | None:
    progress = store.lock_progress(s, found.target.id, found.run.id)
    until = now + SNOOZE
    if progress.snoozed_until is not None and progress.snoozed_until > until - REPEAT_WINDOW:
        return None
    progress.snoozed_until = until
    return {"at": now.isoformat(), "until": until.isoformat()}


def _mute(s: Session, found: Found, user_id: str, now: datetime, log: Log) -> dict[str, Any] | None:
    if found.target.muted_by:
        return None
    found.target.muted_by = user_id
    return {"at": now.isoformat()}


def _review(s: Session, found: Found, user_id: str, now: datetime, log: Log) -> dict[str, Any] | None:
    # The review itself is stored when the modal is submitted (issue 5); the note tells the
    # channel someone is on it, so two people don't schedule the same meeting. Someone who
    # closed the form may open it again: the note comes back.
    if _last_review_step(log, found.alert.id, user_id) == "review":
        return None
    return {"at": now.isoformat()}


def _last_review_step(log: Log, alert_id: int, user_id: str) -> str | None:
    steps = [e.get("action") for e in log if e.get("alert_id") == alert_id and e.get("user") == user_id
             and e.get("action") in REVIEW_STEPS]
    return steps[-1] if steps else None


def review_outcome(services: Services, alert_id: int, user_id: str, scheduled: datetime | None) -> bool:
    """The review form an alert opened was closed (`scheduled` None) or submitted: the alert's
    "is scheduling a results review" note becomes nothing, or "review scheduled for <time>".
    True when the alert message changed; a repeat (Slack redelivering) changes nothing."""
    now = services.clock()
    with services.store.tx() as s:
        found = _find(s, alert_id)
        message = _lock_message(s, found.alert.message_key) if found is not None else None
        if message is None:
            return False
        log = (message.payload or {}).get("log", [])
        if _last_review_step(log, alert_id, user_id) != "review":
            return False  # the form was not opened from this alert's button, or this was said
        entry: dict[str, Any] = {"alert_id": alert_id, "user": user_id, "at": now.isoformat()}
        if scheduled is None:
            entry["action"] = "review_dropped"
        else:
            entry.update(action="review_done", review_at=scheduled.isoformat())
        _log_and_edit(s, message, entry, now)
        return True


APPLY: dict[str, Callable[[Session, Found, str, datetime, Log], dict[str, Any] | None]] = {
    "ack": _acknowledge,
    "snooze": _snooze,
    "mute": _mute,
    "review": _review,
}


def _log_and_edit(s: Session, message: Outbox, entry: dict[str, Any], now: datetime) -> None:
    payload = dict(message.payload or {})
    payload["log"] = [*payload.get("log", []), entry]
    edit(s, message, payload, f"{message.dedupe_key}:edit:{len(payload['log'])}", now)
