"""What App Home shows a person: for each channel of theirs the bot has data for, its runs,
targets and upcoming reviews. Every query is bounded: a few rows per channel (one more than
shown, to know there are more), the counts in one grouped query per kind, and only the columns
Home shows, so a channel with a thousand runs costs the same as one with four."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, func, select, union
from sqlalchemy.orm import Session

from bot.core.reviews import UPCOMING
from bot.store.models import Connection, Review, Run, Target, Watch, WatchRun
from bot.store.sets import one_of


@dataclass(frozen=True)
class HomeRun:
    name: str
    url: str | None
    state: str
    step: int | None
    total_steps: int | None
    conn: str
    # The watch that brings the run here (the run, or its experiment): what untrack stops.
    watch_ref: str
    watch_is_experiment: bool


@dataclass(frozen=True)
class HomeTarget:
    id: int
    metric: str
    op: str
    threshold: float
    patience: int
    muted: bool


@dataclass(frozen=True)
class HomeReview:
    id: int
    title: str
    at: datetime
    state: str


@dataclass
class ChannelHome:
    channel_id: str
    runs: list[HomeRun] = field(default_factory=list)
    targets: list[HomeTarget] = field(default_factory=list)
    reviews: list[HomeReview] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"runs": 0, "targets": 0, "reviews": 0})


def channels_with_data(s: Session, team_id: str, channel_ids: Iterable[str], now: datetime) -> list[str]:
    """Which of `channel_ids` have a tracked run, a target or an upcoming review in this team."""
    wanted = list(dict.fromkeys(channel_ids))
    if not wanted:
        return []
    found = union(
        select(Watch.channel_id).where(Watch.team_id == team_id, one_of(s, Watch.channel_id, wanted, String())),
        select(Target.channel_id).where(Target.team_id == team_id, one_of(s, Target.channel_id, wanted, String())),
        select(Review.channel_id).where(Review.team_id == team_id, one_of(s, Review.channel_id, wanted, String()),
                                        Review.state.in_(UPCOMING), Review.at >= now),
    )
    having = set(s.scalars(select(found.subquery().c[0])))
    return [c for c in wanted if c in having]


def channel_homes(s: Session, team_id: str, channel_ids: list[str], now: datetime, per_kind: int) -> list[ChannelHome]:
    """Up to `per_kind` runs, targets and upcoming reviews of each channel, with their counts."""
    homes = {c: ChannelHome(c) for c in channel_ids}
    if not homes:
        return []
    _count_into(homes, "runs", s.execute(
        select(Watch.channel_id, func.count(func.distinct(WatchRun.run_id)))
        .join(WatchRun, WatchRun.watch_id == Watch.id)
        .where(Watch.team_id == team_id, one_of(s, Watch.channel_id, channel_ids, String())).group_by(Watch.channel_id)))
    _count_into(homes, "targets", s.execute(
        select(Target.channel_id, func.count()).where(Target.team_id == team_id, one_of(s, Target.channel_id, channel_ids, String()))
        .group_by(Target.channel_id)))
    _count_into(homes, "reviews", s.execute(
        select(Review.channel_id, func.count()).where(*_upcoming(team_id, channel_ids, now)).group_by(Review.channel_id)))
    for home in homes.values():
        home.runs = _runs(s, team_id, home.channel_id, per_kind) if home.counts["runs"] else []
        if home.counts["targets"]:
            home.targets = [HomeTarget(*row) for row in s.execute(
                select(Target.id, Target.metric, Target.op, Target.threshold, Target.patience,
                       Target.muted_by.is_not(None))
                .where(Target.team_id == team_id, Target.channel_id == home.channel_id)
                .order_by(Target.id).limit(per_kind))]
        if home.counts["reviews"]:
            home.reviews = [HomeReview(*row) for row in s.execute(
                select(Review.id, Review.title, Review.at, Review.state)
                .where(*_upcoming(team_id, [home.channel_id], now)).order_by(Review.at, Review.id).limit(per_kind))]
    return list(homes.values())


def _upcoming(team_id: str, channel_ids: list[str], now: datetime) -> tuple:
    return (Review.team_id == team_id, Review.channel_id.in_(channel_ids), Review.state.in_(UPCOMING),
            Review.at >= now)


def _count_into(homes: dict[str, ChannelHome], kind: str, rows: Iterable) -> None:
    for channel_id, count in rows:
        homes[channel_id].counts[kind] = count


def _runs(s: Session, team_id: str, channel_id: str, limit: int) -> list[HomeRun]:
    """The channel's newest runs, active first; a run an experiment brought names that watch."""
    rows = s.execute(
        select(Run.id, Run.name, Run.ref, Run.url, Run.state, Run.step, Run.total_steps, Connection.name,
               Watch.ref, Watch.is_experiment)
        .join(WatchRun, WatchRun.run_id == Run.id)
        .join(Watch, Watch.id == WatchRun.watch_id)
        .join(Connection, Connection.id == Run.connection_id)
        .where(Watch.team_id == team_id, Watch.channel_id == channel_id)
        .order_by(Run.active.desc(), Run.id.desc(), Watch.is_experiment)
        .limit(limit * 2)  # a run watched both alone and through its experiment comes twice
    )
    runs: dict[int, HomeRun] = {}
    for run_id, name, ref, url, state, step, total, conn, watch_ref, is_experiment in rows:
        if run_id in runs:
            continue
        runs[run_id] = HomeRun(name or ref, url, state, step, total, conn, watch_ref, bool(is_experiment))
    return list(runs.values())[:limit]
