"""Stored runs, alerts, targets and reviews of a channel as the core's plain facts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.facts import AlertFacts, ReviewFacts, RunFacts, TargetFacts
from bot.store import runs as q
from bot.store.models import (
    Alert,
    Connection,
    Review,
    ReviewRun,
    Run,
    Target,
    TargetProgress,
    Watch,
    WatchRun,
)

_FACT_COLUMNS = (Run.id, Run.name, Run.ref, Run.state, Connection.name.label("connection"),
                 Connection.kind, Run.url, Run.owner,
                 Run.step, Run.total_steps, Run.eta, Run.metrics, Run.started_at, Run.ended_at, Run.updated_at,
                 Run.progress_at, Run.stale_since)


def channel_run_facts(s: Session, team_id: str, channel_id: str) -> list[RunFacts]:
    """Every run of the channel, oldest first, read as plain columns (no params, no ORM objects):
    a digest over hundreds of runs costs its rows, not an identity map of them."""
    rows = s.execute(
        select(*_FACT_COLUMNS)
        .join(Connection, Connection.id == Run.connection_id)
        .where(Run.id.in_(q.channel_run_ids(team_id, channel_id)))
        .order_by(Run.created_at, Run.id)
    )
    return [RunFacts(id=r.id, name=r.name or r.ref, state=r.state, connection=r.connection, url=r.url, owner=r.owner,
                     kind=r.kind, step=r.step, total_steps=r.total_steps, eta=r.eta, metrics=dict(r.metrics or {}),
                     started_at=r.started_at, ended_at=r.ended_at, updated_at=r.updated_at,
                     progress_at=r.progress_at, stale_since=r.stale_since) for r in rows]


def alerts_since(s: Session, run_ids: Iterable[int], since: datetime) -> list[AlertFacts]:
    ids = list(run_ids)
    if not ids:
        return []
    rows = s.execute(
        select(Alert, Target).join(Target, Target.id == Alert.target_id)
        .where(Alert.run_id.in_(ids), Alert.at >= since).order_by(Alert.at)
    )
    return [AlertFacts(run_id=a.run_id, metric=t.metric, op=t.op, threshold=float(t.threshold),
                       value=float(a.value), step=a.step, at=a.at) for a, t in rows]


def channel_targets(s: Session, team_id: str, channel_id: str, runs: list[RunFacts]) -> list[TargetFacts]:
    """Each target of the channel with the channel runs in its scope and their best values."""
    channel_ids = tuple(r.id for r in runs)
    out = []
    query = select(Target).where(Target.team_id == team_id, Target.channel_id == channel_id)
    for target in s.scalars(query.order_by(Target.id)):
        ids = channel_ids if target.scope_connection_id is None else _scoped(s, target, set(channel_ids))
        bests = {
            p.run_id: float(p.best)
            for p in s.scalars(select(TargetProgress).where(TargetProgress.target_id == target.id))
            if p.best is not None and p.run_id in ids
        }
        out.append(TargetFacts(id=target.id, metric=target.metric, op=target.op,
                               threshold=float(target.threshold), patience=target.patience,
                               run_ids=ids, bests=bests))
    return out


def _scoped(s: Session, target: Target, channel_ids: set[int]) -> tuple[int, ...]:
    if not target.scope_is_experiment:
        run = q.get_run(s, target.scope_connection_id, target.scope_ref or "")
        return (run.id,) if run is not None and run.id in channel_ids else ()
    rows = s.scalars(
        select(WatchRun.run_id).join(Watch, Watch.id == WatchRun.watch_id).where(
            Watch.connection_id == target.scope_connection_id, Watch.ref == target.scope_ref,
            Watch.is_experiment.is_(True),
        )
    )
    return tuple(sorted({rid for rid in rows if rid in channel_ids}))


def channel_reviews(s: Session, team_id: str, channel_id: str, now: datetime) -> list[ReviewFacts]:
    reviews = list(s.scalars(select(Review).where(Review.team_id == team_id, Review.channel_id == channel_id,
                                                  Review.at >= now).order_by(Review.at)))
    out = []
    for review in reviews:
        states = s.scalars(select(Run.state).join(ReviewRun, ReviewRun.run_id == Run.id)
                           .where(ReviewRun.review_id == review.id))
        out.append(ReviewFacts(id=review.id, title=review.title, at=review.at, state=review.state,
                               run_states=tuple(states)))
    return out
