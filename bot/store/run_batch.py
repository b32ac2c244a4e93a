"""The runs one answer changed, written in one statement.

record.py applies each run's new snapshot to its ORM object in memory; left to itself the ORM
would flush one UPDATE per run. `write_changed` sends the changed runs' recorded columns as
one executemany UPDATE by primary key (psycopg pipelines it), then tells the ORM those values
are what the database holds, so the flush writes them no second time. Runs that did not
change are not written: a quiet poll leaves no dead tuples behind.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.store.models import Run

# What recording a snapshot may change on a run (record.update_runs, runs.snapshot_values, touch).
RECORDED = ("name", "experiment", "state", "step", "total_steps", "metrics", "params", "started_at", "ended_at",
            "heartbeat_at", "progress_at", "eta", "owner", "url", "polled_at", "stale_since", "last_error",
            "missing_since", "missing_polls", "active", "updated_at")
_UPDATE = (Run.__table__.update().where(Run.__table__.c.id == bindparam("run_id"))
           .values({column: bindparam(f"new_{column}") for column in RECORDED}))


def write_changed(s: Session, runs: Iterable[Run]) -> int:
    """One UPDATE for those of `runs` that changed; returns how many were written."""
    # `modified` first: the ORM's flag that anything was set, cheap, and False on a quiet run.
    changed = [run for run in runs if (state := inspect(run)).modified and state.persistent and s.is_modified(run)]
    if not changed:
        return 0
    rows = [{"run_id": run.id, **{f"new_{column}": getattr(run, column) for column in RECORDED}} for run in changed]
    s.connection().execute(_UPDATE, rows)  # the connection, not the Session: no autoflush of these runs first
    for run in changed:
        for column in RECORDED:
            set_committed_value(run, column, getattr(run, column))
    return len(changed)
