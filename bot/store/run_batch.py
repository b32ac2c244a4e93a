"""The runs one answer changed, written in one statement.

record.py computes each run's new values and hands them to `assign`, which gives the run only
those that differ, as committed values: the ORM keeps no history of them, so a quiet run costs
no attribute events and no change checks, and the flush at commit has nothing to look at. `write`
then sends the changed runs' recorded columns as one executemany UPDATE by primary key (psycopg
pipelines it). Runs that did not change are not written: a quiet poll leaves no dead tuples.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.store.models import Run

# What recording a snapshot may change on a run (record.update_runs, runs.snapshot_values, runs.touch).
RECORDED = ("name", "experiment", "state", "step", "total_steps", "metrics", "params", "started_at", "ended_at",
            "heartbeat_at", "progress_at", "eta", "owner", "url", "polled_at", "stale_since", "last_error",
            "missing_since", "missing_polls", "active", "updated_at")
_UPDATE = (Run.__table__.update().where(Run.__table__.c.id == bindparam("run_id"))
           .values({column: bindparam(f"new_{column}") for column in RECORDED}))


def assign(s: Session, run: Run, values: dict[str, Any], now: datetime) -> bool:
    """Give the run those of `values` that differ from what it holds, stamped (runs.touch) if any
    did or if the caller changed it through the ORM first (record_pushed's start time); returns
    whether it changed, and then `write` must send it: set this way, the ORM will not."""
    changed = False
    for column, value in values.items():
        if getattr(run, column) != value:  # the ORM's own test of a change (TypeEngine.compare_values)
            set_committed_value(run, column, value)
            changed = True
    if changed or modified(s, run):
        set_committed_value(run, "polled_at", now)
        set_committed_value(run, "updated_at", now)
        return True
    return False


def write(s: Session, runs: Iterable[Run]) -> int:
    """One UPDATE for `runs`, those `assign` said changed; returns how many were written."""
    changed = [run for run in runs if inspect(run).persistent]
    if not changed:
        return 0
    rows = [{"run_id": run.id, **{f"new_{column}": getattr(run, column) for column in RECORDED}} for run in changed]
    s.connection().execute(_UPDATE, rows)  # the connection, not the Session: no autoflush of these runs first
    for run in changed:
        if inspect(run).modified:  # changed through the ORM too: what it holds is written now, not again
            for column in RECORDED:
                set_committed_value(run, column, getattr(run, column))
    return len(changed)


def modified(s: Session, run: Run) -> bool:
    """Whether something set through the ORM changed the run. `modified` is only the ORM's flag
    that an attribute was set: cheap, and False on a run nobody set anything on; is_modified
    then compares each attribute with what was loaded."""
    return inspect(run).modified and s.is_modified(run)
