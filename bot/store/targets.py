"""Queries about targets, their per-run progress and the alerts they raised.

Uniqueness lives in the database: progress rows and alerts are inserted with ON CONFLICT DO
NOTHING, so two replicas (or a poll racing a push) can never create the same one twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.core import targets as core
from bot.store.models import Alert, Connection, Run, Target, TargetProgress, Watch, WatchRun


def _insert(s: Session, model: type):  # noqa: ANN202 - dialect-specific Insert
    return (postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert)(model)


def rule_of(target: Target) -> core.Rule:
    return core.Rule(target.metric, target.op, float(target.threshold), int(target.patience))


def targets_for_runs(s: Session, runs: list[Run], include_muted: bool = False) -> dict[int, list[Target]]:
    """targets_for_run for many runs in three queries, not three per run: the poll asks this for
    every run of a connection on every cycle."""
    out: dict[int, list[Target]] = {run.id: [] for run in runs}
    if not runs:
        return out
    watches: dict[int, list[Watch]] = {run.id: [] for run in runs}
    rows = s.execute(
        select(WatchRun.run_id, Watch).join(Watch, Watch.id == WatchRun.watch_id)
        .where(WatchRun.run_id.in_(list(out)))
    )
    for run_id, watch in rows:
        watches[run_id].append(watch)
    # Channel-wide targets of the watching channels: narrowed by team and channel here, matched
    # on the exact (team, channel) pair by _watches_run (a channel id may exist in two teams).
    teams = {w.team_id for ws in watches.values() for w in ws}
    channels = {w.channel_id for ws in watches.values() for w in ws}
    connections = {run.connection_id for run in runs}
    query = select(Target).where(
        or_(
            and_(Target.scope_connection_id.is_(None), Target.team_id.in_(teams), Target.channel_id.in_(channels)),
            Target.scope_connection_id.in_(connections),
        )
    )
    if not include_muted:
        query = query.where(Target.muted_by.is_(None))
    targets = list(s.scalars(query.order_by(Target.id)))
    for run in runs:
        out[run.id] = [t for t in targets if _watches_run(t, run, watches[run.id])]
    return out


def _watches_run(target: Target, run: Run, watches: list[Watch]) -> bool:
    if target.scope_connection_id is None:
        return any((w.team_id, w.channel_id) == (target.team_id, target.channel_id) for w in watches)
    if target.scope_connection_id != run.connection_id:
        return False
    if not target.scope_is_experiment:
        return target.scope_ref == run.ref
    return any(w.is_experiment and w.connection_id == run.connection_id and w.ref == target.scope_ref for w in watches)


def progress_for(s: Session, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], core.TargetProgress]:
    """Stored progress of many (target, run) pairs in one query; missing pairs start fresh."""
    found: dict[tuple[int, int], core.TargetProgress] = {pair: core.TargetProgress() for pair in pairs}
    run_ids = {run_id for _, run_id in pairs}
    target_ids = {target_id for target_id, _ in pairs}
    if pairs:
        rows = s.scalars(
            select(TargetProgress).where(TargetProgress.run_id.in_(run_ids), TargetProgress.target_id.in_(target_ids))
        )
        for row in rows:
            if (row.target_id, row.run_id) in found:
                found[(row.target_id, row.run_id)] = to_core(row)
    return found


def targets_for_run(s: Session, run: Run, include_muted: bool = False) -> list[Target]:
    """Targets that watch this run: channel-wide targets of every channel tracking it, targets
    naming the run itself, and targets naming an experiment watch the run belongs to."""
    return targets_for_runs(s, [run], include_muted)[run.id]


def lock_progress(s: Session, target_id: int, run_id: int) -> TargetProgress:
    """The progress row, created if missing and locked (PostgreSQL) so that two evaluations of
    one (target, run) take turns; SQLite's BEGIN IMMEDIATE already serialises writers."""
    stmt = _insert(s, TargetProgress).values(
        target_id=target_id, run_id=run_id, streak=0, armed=True, crossings=0
    )
    s.execute(stmt.on_conflict_do_nothing(index_elements=["target_id", "run_id"]))
    query = (
        select(TargetProgress)
        .where(TargetProgress.target_id == target_id, TargetProgress.run_id == run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return s.scalars(query).one()


def lock_progress_many(s: Session, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], TargetProgress]:
    """lock_progress for many (target, run) pairs: one insert and one locking select. Rows are
    locked in key order so that two replicas evaluating overlapping pairs cannot deadlock."""
    if not pairs:
        return {}
    pairs = sorted(set(pairs))
    rows = [dict(target_id=t, run_id=r, streak=0, armed=True, crossings=0) for t, r in pairs]
    for start in range(0, len(rows), 500):  # bounded statements, well under SQLite's variable limit
        chunk = rows[start : start + 500]
        s.execute(_insert(s, TargetProgress).values(chunk).on_conflict_do_nothing(index_elements=["target_id", "run_id"]))
    query = (
        select(TargetProgress)
        .where(TargetProgress.target_id.in_({t for t, _ in pairs}), TargetProgress.run_id.in_({r for _, r in pairs}))
        .order_by(TargetProgress.target_id, TargetProgress.run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    wanted = set(pairs)
    return {(row.target_id, row.run_id): row for row in s.scalars(query) if (row.target_id, row.run_id) in wanted}


def to_core(row: TargetProgress) -> core.TargetProgress:
    return core.TargetProgress(
        streak=row.streak, armed=row.armed, crossings=row.crossings, last_step=row.last_step, best=row.best,
        last_at=row.last_at,
    )


def store_progress(row: TargetProgress, progress: core.TargetProgress) -> None:
    row.streak = progress.streak
    row.armed = progress.armed
    row.crossings = progress.crossings
    row.last_step = progress.last_step
    row.last_at = progress.last_at
    row.best = progress.best


def record_alert(s: Session, target_id: int, run_id: int, crossing: core.Crossing, now: datetime) -> int | None:
    """Insert the alert for one crossing; its id, or None when it was already recorded."""
    stmt = (
        _insert(s, Alert)
        .values(
            target_id=target_id,
            run_id=run_id,
            crossing=crossing.number,
            step=crossing.step,
            value=crossing.value,
            at=crossing.at,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["target_id", "run_id", "crossing"])
        .returning(Alert.id)
    )
    return s.scalar(stmt)


def channel_targets(s: Session, team_id: str, channel_id: str) -> list[Target]:
    query = select(Target).where(Target.team_id == team_id, Target.channel_id == channel_id)
    return list(s.scalars(query.order_by(Target.id)))


def latest_alerts(s: Session, target_ids: list[int]) -> dict[int, tuple[Alert, Run]]:
    """The newest alert of each target, with its run."""
    if not target_ids:
        return {}
    rows = s.execute(
        select(Alert, Run).join(Run, Run.id == Alert.run_id).where(Alert.target_id.in_(target_ids)).order_by(Alert.id)
    )
    return {alert.target_id: (alert, run) for alert, run in rows}


def run_mutes(s: Session, target_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """target id -> (`<conn>:<run ref>`, who muted it) of each run muted for that target."""
    out: dict[int, list[tuple[str, str]]] = {}
    if not target_ids:
        return out
    rows = s.execute(
        select(TargetProgress.target_id, Connection.name, Run.ref, TargetProgress.muted_by)
        .join(Run, Run.id == TargetProgress.run_id).join(Connection, Connection.id == Run.connection_id)
        .where(TargetProgress.target_id.in_(target_ids), TargetProgress.muted_by.is_not(None))
        .order_by(TargetProgress.target_id, TargetProgress.muted_at)
    )
    for target_id, conn_name, ref, muted_by in rows:
        out.setdefault(target_id, []).append((f"{conn_name}:{ref}", muted_by))
    return out
