"""The metric history of pushed runs.

A polled run's history lives in its tracker; a pushed run's only record is what it sent, so each
push keeps its values here, one row per (run, key, step), in the transaction that stores the
snapshot. Each (run, key) keeps its newest MAX_POINTS steps: older ones are pruned as new ones
arrive, so a long run costs a bounded number of rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Integer, bindparam, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.db import Store
from bot.store.models import Run, RunPoint
from bot.store.sets import one_of
from integrations.base import MetricPoint

MAX_POINTS = 2000  # per (run, key); as many as a target chart draws (target_alert.MAX_CHART_POINTS)

_table = RunPoint.__table__


def record(s: Session, run_id: int, metrics: Mapping[str, float], step: int | None, at: datetime) -> None:
    """Keep this push's values at `step`. A push without a step cannot be ordered and is not
    kept; a step already kept keeps its first value (the one targets evaluated); non-finite
    values are left out (SQLite stores NaN as NULL, and a chart has no place for them)."""
    if step is None:
        return
    rows = [{"run_id": run_id, "key": key, "step": step, "value": float(value), "at": at}
            for key, value in metrics.items() if math.isfinite(float(value))]
    if not rows:
        return
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_table).values(rows).on_conflict_do_nothing(index_elements=["run_id", "key", "step"])
    added = list(s.execute(stmt.returning(_table.c.key)).scalars())
    if added:
        _prune(s, run_id, added)


def record_series(s: Session, run_id: int, key: str, series: Sequence[MetricPoint]) -> None:
    """Keep a polled run's newly fetched points of one metric, so a forecast reads them from
    here instead of asking the tracker for the whole history again. Same rules as record()."""
    rows = {p.step: {"run_id": run_id, "key": key, "step": p.step, "value": float(p.value), "at": p.at}
            for p in series if p.step is not None and math.isfinite(float(p.value))}
    if not rows:
        return
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_table).values(list(rows.values())).on_conflict_do_nothing(index_elements=["run_id", "key", "step"])
    if list(s.execute(stmt.returning(_table.c.key)).scalars()):
        _prune(s, run_id, [key])


def _prune(s: Session, run_id: int, keys: list[str]) -> None:
    """Per key, drop every step at or below the (MAX_POINTS + 1)-th newest: one statement per key,
    each a short walk down the primary key index."""
    same = (_table.c.run_id == run_id) & (_table.c.key == bindparam("k"))
    cutoff = select(_table.c.step).where(same).order_by(_table.c.step.desc()).limit(1).offset(MAX_POINTS)
    stmt = delete(_table).where(same, _table.c.step <= cutoff.scalar_subquery())
    s.connection().execute(stmt, [{"k": key} for key in keys])


def history(s: Session, run_ids: Sequence[int], key: str, start_step: int | None = None) -> dict[int, list[MetricPoint]]:
    """Kept points of one metric per run id, ascending by step, from start_step (inclusive) on."""
    query = select(RunPoint).where(one_of(s, RunPoint.run_id, list(run_ids), Integer()), RunPoint.key == key)
    if start_step is not None:
        query = query.where(RunPoint.step >= start_step)
    out: dict[int, list[MetricPoint]] = defaultdict(list)
    for row in s.scalars(query.order_by(RunPoint.run_id, RunPoint.step)):
        out[row.run_id].append(MetricPoint(step=row.step, value=row.value, at=row.at))
    return dict(out)


def histories(s: Session, wanted: Collection[tuple[int, str]]) -> dict[tuple[int, str], list[MetricPoint]]:
    """history for many (run id, metric) pairs in one query: each run's own metric."""
    if not wanted:
        return {}
    query = (select(RunPoint).where(tuple_(RunPoint.run_id, RunPoint.key).in_(list(wanted)))
             .order_by(RunPoint.run_id, RunPoint.key, RunPoint.step))
    out: dict[tuple[int, str], list[MetricPoint]] = defaultdict(list)
    for row in s.scalars(query):
        out[(row.run_id, row.key)].append(MetricPoint(step=row.step, value=row.value, at=row.at))
    return dict(out)


def reader(store: Store, connection_id: int) -> Callable[[Sequence[str], str, int | None], dict[str, list[MetricPoint]]]:
    """A push connection's metric_history (see integrations.push.Tracker): kept points by run ref."""

    def metric_history(refs: Sequence[str], key: str, start_step: int | None = None) -> dict[str, list[MetricPoint]]:
        with store.tx() as s:
            runs = dict(s.execute(select(Run.id, Run.ref).where(Run.connection_id == connection_id,
                                                                 Run.ref.in_(list(refs)))).all())
            return {runs[run_id]: points for run_id, points in history(s, list(runs), key, start_step).items()}

    return metric_history
