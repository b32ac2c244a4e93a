"""What the leaderboard reads: the channel's runs as plain columns (name, step, metrics, params,
link; never the whole row), the channel's targets as goals per metric, and the leader the last
digest showed per metric."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.leaderboard import Entry, Goal
from bot.store.models import Connection, LeaderboardLeader, Run, Target, Watch, WatchRun

# The runs a leaderboard looks at; a channel tracking more is ranked on its newest ones.
MAX_RUNS = 2000


def entries(s: Session, team_id: str, channel_id: str, experiment: tuple[int, str] | None = None) -> list[Entry]:
    """The channel's runs, or (experiment = (connection id, name)) that experiment watch's runs."""
    here = [Watch.team_id == team_id, Watch.channel_id == channel_id]
    if experiment is not None:
        here += [Watch.connection_id == experiment[0], Watch.ref == experiment[1], Watch.is_experiment.is_(True)]
    in_channel = select(WatchRun.run_id).join(Watch, Watch.id == WatchRun.watch_id).where(*here)
    rows = s.execute(
        select(Run.id, Run.name, Run.ref, Run.url, Run.step, Run.metrics, Run.params, Connection.name)
        .join(Connection, Connection.id == Run.connection_id)
        .where(Run.id.in_(in_channel))
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(MAX_RUNS)
    )
    return [Entry(run_id=rid, name=name or ref, connection=conn, url=url, step=step, metrics=metrics or {},
                  params=params or {})
            for rid, name, ref, url, step, metrics, params, conn in rows]


def goals(s: Session, team_id: str, channel_id: str) -> dict[str, Goal]:
    """The channel's target per metric (the first one set, when a metric has several)."""
    found: dict[str, Goal] = {}
    rows = s.execute(select(Target.metric, Target.op, Target.threshold)
                     .where(Target.team_id == team_id, Target.channel_id == channel_id).order_by(Target.id))
    for metric, op, threshold in rows:
        found.setdefault(metric, Goal(op, float(threshold)))
    return found


def last_leader(s: Session, team_id: str, channel_id: str, metric: str) -> tuple[int | None, str, float] | None:
    row = s.get(LeaderboardLeader, (team_id, channel_id, metric))
    return None if row is None else (row.run_id, row.run_name, float(row.value))


def remember_leader(s: Session, team_id: str, channel_id: str, metric: str, run_id: int, name: str,
                    value: float, now: datetime) -> None:
    row = s.get(LeaderboardLeader, (team_id, channel_id, metric))
    if row is None:
        s.add(LeaderboardLeader(team_id=team_id, channel_id=channel_id, metric=metric, run_id=run_id,
                                run_name=name[:500], value=value, at=now))
    else:
        row.run_id, row.run_name, row.value, row.at = run_id, name[:500], value, now
