"""Stopping a run from Slack, as the channel sees it: the "Stop run" button a run message offers
(with Slack's confirmation dialog saying what stopping means on that tracker), the note that
replaces it once someone asked, and the channel message saying who stopped what.

A message that offers the button keeps, in its outbox payload, `stops`: run id (as text) -> the
Slack user who asked. bot/handlers/run_stop.py fills it in and edits the message in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.notify.blocks import STOP_RUN, button, confirm
from bot.notify.outbox import enqueue
from bot.notify.render import escape, mention
from integrations.registry import STOPPABLE

TEMPLATE = "run_stop"

# What a stop does on each tracker, said in the confirmation and in the channel message.
MEANS = {
    "wandb": "W&B asks the run's process to stop at its next heartbeat, as its own Stop button does.",
    "push": "The training code is told to stop in the answer to its next push (`\"stop\": true`).",
    "mlflow": ("MLflow marks the run KILLED and tags it `readybot.stop_requested`, but it cannot stop "
               "the training process: that keeps running (and using compute) unless its code checks the tag."),
}
# Trackers that cannot be told to stop anything, and why (/ready stop answers this).
CANNOT = {
    "comet": "Comet's API cannot tell a running experiment to stop; stop it where it runs.",
    "tensorboard": "A TensorBoard log folder is only read; stop the run where it runs.",
}
# The reason a stop from a message's button records: what that message was about.
REASONS = {
    "target_alert": "reached its target",
    "run_nonfinite": "diverged (a non-finite value)",
}
DEFAULT_REASON = "asked from Slack"


def stoppable(kind: str | None) -> bool:
    return kind in STOPPABLE


def stop_element(run_id: int, name: str, kind: str) -> dict[str, Any]:
    """The Stop button, behind a confirmation that says what stopping means on this tracker."""
    element = button("Stop run", STOP_RUN, str(run_id), style="danger")
    element["confirm"] = confirm("Stop this run?", f"Stop *{_plain(name)}*? {escape(MEANS[kind])}", "Stop run", "Keep going")
    return element


def offer(payload: dict[str, Any], run_id: int, name: str, kind: str | None) -> dict[str, Any] | None:
    """The Stop button for a message's run, or None: the tracker cannot stop it, or someone asked."""
    if not stoppable(kind) or str(run_id) in (payload.get("stops") or {}):
        return None
    return stop_element(run_id, name, str(kind))


def requested_note(payload: dict[str, Any], run_id: int) -> dict[str, Any] | None:
    """The context line that replaces the button once someone asked."""
    user = (payload.get("stops") or {}).get(str(run_id))
    if not user:
        return None
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f":octagonal_sign: Stop requested by {mention(user)}"}]}


def announce(s: Session, *, run_id: int, team_id: str, channel_id: str, user_id: str, run: dict[str, Any],
             connection: str, kind: str, reason: str, now: datetime) -> None:
    """The channel message: who asked to stop which run, why, and what that does on its tracker."""
    enqueue(s, key=f"stop:{run_id}:{channel_id}", team_id=team_id, channel_id=channel_id, template=TEMPLATE,
            payload={"user": user_id, "run": run, "connection": connection, "reason": reason,
                     "means": MEANS.get(kind, "")}, now=now)


def _plain(text: str) -> str:
    return escape(text.replace("*", ""))[:120]
