"""Queries about targets, their per-run progress and the alerts they raised.

Uniqueness lives in the database: progress rows and alerts are inserted with ON CONFLICT DO
NOTHING, so two replicas (or a poll racing a push) can never create the same one twice.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, and_, bindparam, exists, func, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.core import targets as core
from bot.store.models import Alert, Connection, Run, RunPoint, Target, TargetProgress, Watch, WatchRun
from bot.store.sets import is_postgres, one_of, one_of_param


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
        .where(one_of(s, WatchRun.run_id, list(out), Integer()))
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
            select(TargetProgress).where(one_of(s, TargetProgress.run_id, run_ids, Integer()),
                                         one_of(s, TargetProgress.target_id, target_ids, Integer()))
        )
        for row in rows:
            if (row.target_id, row.run_id) in found:
                found[(row.target_id, row.run_id)] = to_core(row)
    return found


def targets_for_run(s: Session, run: Run, include_muted: bool = False) -> list[Target]:
    """Targets that watch this run: channel-wide targets of every channel tracking it, targets
    naming the run itself, and targets naming an experiment watch the run belongs to."""
    return targets_for_runs(s, [run], include_muted)[run.id]


@dataclass(frozen=True)
class ShownTarget:
    """The target a listing forecasts a run against, and how many points of its metric the
    run has kept, up to which step: enough to know whether a kept fit is still the fit."""

    run_id: int
    rule: core.Rule
    total_steps: int | None
    points: int
    last_step: int | None


def shown_targets(s: Session, team_id: str, channel_id: str, run_ids: Collection[int]) -> dict[int, ShownTarget]:
    """run id -> the first (by id) unmuted target of this channel that watches the running run
    and whose metric the run logs: what bot.jobs.forecasts.run_line picks from targets_for_run,
    for many runs in one statement instead of three per run, the kept points counted, not read."""
    if not run_ids:
        return {}
    ids = list(run_ids) if is_postgres(s) else tuple(run_ids)
    rows = s.connection().execute(_shown_query(is_postgres(s)), {"team_id": team_id, "channel_id": channel_id,
                                                                  "run_ids": ids})
    out: dict[int, ShownTarget] = {}
    for run_id, total, metric, op, threshold, patience, points, last_step in rows:
        if run_id not in out:
            rule = core.Rule(metric, op, float(threshold), int(patience))  # as rule_of
            out[run_id] = ShownTarget(run_id, rule, total, points or 0, last_step)
    return out


@functools.cache
def _shown_query(postgres: bool):  # noqa: ANN202 - a SQLAlchemy select
    """shown_targets' statement, built once per dialect with bound parameters: building it for
    each request cost more CPU than running it. The run ids are one array on PostgreSQL
    (bot/store/sets.py), an expanding IN list on SQLite."""
    kept = (RunPoint.run_id == Run.id) & (RunPoint.key == Target.metric)
    listed = one_of_param("postgresql" if postgres else "sqlite", Run.id, "run_ids", Integer())
    this_channel = and_(Target.team_id == bindparam("team_id", type_=String()),
                        Target.channel_id == bindparam("channel_id", type_=String()), Target.muted_by.is_(None))
    columns = (Run.id, Run.total_steps, Target.metric, Target.op, Target.threshold, Target.patience)
    if postgres:
        # Count and newest step in one pass over the run's points (a LATERAL subquery): two
        # scalar subqueries read them twice, and were most of a forecast listing's SQL.
        counted = select(func.count().label("points"), func.max(RunPoint.step).label("last_step")).where(kept).lateral()
        query = (select(*columns, counted.c.points, counted.c.last_step).select_from(Run)
                 .join(Target, this_channel).join(counted, true()))
    else:  # SQLite has no LATERAL
        query = select(*columns, select(func.count()).where(kept).scalar_subquery(),
                       select(func.max(RunPoint.step)).where(kept).scalar_subquery()).join(Target, this_channel)
    return query.where(listed, Run.state == "running", _watches(), _logs_metric(postgres)).order_by(Run.id, Target.id)


def _watches():  # noqa: ANN202 - a SQL condition on (Run, Target): _watches_run, as SQL
    watch_of_run = select(WatchRun.run_id).join(Watch, Watch.id == WatchRun.watch_id).where(WatchRun.run_id == Run.id)
    channel_wide = and_(Target.scope_connection_id.is_(None), exists(
        watch_of_run.where(Watch.team_id == Target.team_id, Watch.channel_id == Target.channel_id)))
    the_run = and_(Target.scope_is_experiment.is_(False), Target.scope_ref == Run.ref)
    its_experiment = and_(Target.scope_is_experiment.is_(True), exists(
        watch_of_run.where(Watch.is_experiment.is_(True), Watch.connection_id == Run.connection_id,
                           Watch.ref == Target.scope_ref)))
    return or_(channel_wide, and_(Target.scope_connection_id == Run.connection_id, or_(the_run, its_experiment)))


def _logs_metric(postgres: bool):  # noqa: ANN202 - a SQL condition: the target's metric is a key of the run's metrics
    if postgres:
        return func.json_extract_path(Run.metrics, Target.metric).is_not(None)
    keys = func.json_each(Run.metrics).table_valued("key")
    return exists(select(keys.c.key).where(keys.c.key == Target.metric))


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
        .where(one_of(s, TargetProgress.target_id, {t for t, _ in pairs}, Integer()),
               one_of(s, TargetProgress.run_id, {r for _, r in pairs}, Integer()))
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
