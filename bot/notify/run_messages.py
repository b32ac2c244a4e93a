"""Run-event messages (finished, failed, stalled, ...): the data a run's message shows and the
outbox rows that carry it to each channel watching the run. The template is
bot/templates/run_event.j2; run_payload is also the base of the non-finite loss alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.notify import run_stop
from bot.notify.blocks import actions
from bot.notify.outbox import Queued, enqueue_many
from bot.notify.render import Message, render
from bot.store import runs as q
from bot.store.models import Connection, Run


def notify_run_event(s: Session, conn: Connection, run: Run, kind: str, episode: str, now: datetime,
                     channels: list[tuple[str, str]] | None = None) -> None:
    """channels: the run's watching channels when the caller read them for many runs at once."""
    channels = q.channels_of(s, run.id) if channels is None else channels
    enqueue_many(s, run_event_messages(conn, run, kind, episode, channels, now), now)


def notify_channel(s: Session, conn: Connection, run: Run, kind: str, episode: str, team_id: str, channel_id: str,
                   now: datetime) -> None:
    enqueue_many(s, run_event_messages(conn, run, kind, episode, [(team_id, channel_id)], now), now)


def run_event_messages(conn: Connection, run: Run, kind: str, episode: str, channels: list[tuple[str, str]],
                       now: datetime) -> list[Queued]:
    """The run event's message to each channel, to queue with outbox.enqueue_many (a poll
    queues all of an answer's in one statement). The key names the run, the event, its episode
    and the channel: however often the event is recorded, each channel is told once."""
    payload = {**run_payload(conn, run, now), "event": kind}
    return [Queued(key=f"run:{run.id}:{kind}:{episode}:{channel_id}", team_id=team_id, channel_id=channel_id,
                   template="run_event", payload=payload) for team_id, channel_id in channels]


def run_payload(conn: Connection, run: Run, now: datetime) -> dict:
    duration = None
    if run.started_at:
        duration = ((run.ended_at or now) - run.started_at).total_seconds()
    return {
        "run": {
            "id": run.id,
            "ref": run.ref,
            "name": run.name or run.ref,
            "experiment": run.experiment,
            "url": run.url,
            "owner": run.owner,
            "state": run.state,
            "step": run.step,
            "total_steps": run.total_steps,
            "metrics": dict(sorted((run.metrics or {}).items())[:20]),
            "duration_s": duration,
            "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
        },
        "connection": conn.name,
        "kind": conn.kind,
    }


def nonfinite_message(payload: dict[str, Any]) -> Message:
    """The diverged-run alert, with a Stop button while the run may still be using compute."""
    message = render("run_nonfinite", **payload)
    run = payload["run"]
    if run.get("state") in ("finished", "failed", "killed"):
        return message
    element = run_stop.offer(payload, run["id"], str(run["name"]), payload.get("kind"))
    if element:
        message.blocks.append(actions(element, block_id=f"run_nonfinite:{run['id']}"))
    elif note := run_stop.requested_note(payload, run["id"]):
        message.blocks.append(note)
    return message
