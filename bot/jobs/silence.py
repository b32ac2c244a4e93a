"""Pushed runs are never polled, so silence is their only sign of trouble: a running push run
that has not reported for the stall time is marked stalled (and says so once)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.notify.run_messages import notify_run_event
from bot.services import Services
from bot.store.models import Connection, Run, WatchRun
from integrations.registry import POLLED


def sweep_silent_runs(services: Services) -> int:
    now = services.clock()
    stall_after = timedelta(minutes=services.settings.stall_minutes)
    stalled = 0
    with services.store.tx() as s:
        rows = s.execute(
            select(Run, Connection)
            .join(Connection, Connection.id == Run.connection_id)
            .where(Run.active.is_(True), Run.state == "running", Connection.kind.notin_(POLLED))
            .where(Run.id.in_(select(WatchRun.run_id)))
        )
        for run, conn in rows:
            alive = max(filter(None, (run.heartbeat_at, run.progress_at, run.created_at)))
            if now - alive > stall_after:
                run.state = "stalled"
                notify_run_event(s, conn, run, "stalled", alive.isoformat(), now)
                stalled += 1
    return stalled
