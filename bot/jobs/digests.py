"""The digest job, run every minute on every replica: post each channel's digest once per
scheduled day. The DigestPost row is unique per (team, channel, period) and is written in the same
transaction as the outbox row, so two replicas cannot both post a day's digest."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Integer, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.digest import assemble
from bot.core.forecast import ForecastKind, forecast
from bot.core.leaderboard import DIGEST_ROWS, board, direction, new_leader
from bot.core.schedules import Cadence, due_digest_day
from bot.notify import outbox
from bot.notify.forecast_alert import forecast_line
from bot.services import Services
from bot.store import facts, points, sets
from bot.store import leaderboard as lq
from bot.store import standups as q
from bot.store import targets as tq
from bot.store.models import DigestPost, Run, Target

log = logging.getLogger(__name__)
JOB_SECONDS = 60
GRACE = timedelta(hours=6)  # a bot down longer than this skips that day's digest rather than post it late
FIRST_LOOKBACK = timedelta(days=1)  # the first digest of a channel covers the last day


def digest_tick(services: Services) -> None:
    now = services.clock()
    with services.store.tx() as s:
        schedules = q.enabled_schedules(s, "digest")
    for schedule in schedules:
        cadence = Cadence.of(schedule.time, schedule.days)
        day = due_digest_day(cadence, schedule.tz, now, schedule.created_at, GRACE)
        if day is not None:
            post_digest(services, schedule.team_id, schedule.channel_id, day.isoformat(), now, schedule.tz)


def post_digest(services: Services, team_id: str, channel_id: str, period: str, now: datetime,
                tz: str = "UTC") -> bool:
    """Queue the channel's digest for `period`; False if that period's digest already exists."""
    key = f"digest:{team_id}:{channel_id}:{period}"
    here = (DigestPost.team_id == team_id, DigestPost.channel_id == channel_id)
    try:
        with services.store.tx() as s:
            if s.scalar(select(DigestPost.id).where(*here, DigestPost.period == period)):
                return False
            since = s.scalar(select(DigestPost.at).where(*here)
                             .order_by(DigestPost.at.desc()).limit(1)) or now - FIRST_LOOKBACK
            runs = facts.channel_run_facts(s, team_id, channel_id)
            digest = assemble(runs, facts.channel_targets(s, team_id, channel_id, runs),
                              facts.channel_reviews(s, team_id, channel_id, now), since, now, tz)
            digest["leaderboards"] = leaderboards(s, team_id, channel_id, now)
            forecast_lines(s, team_id, channel_id, digest["running"], now)
            s.add(DigestPost(team_id=team_id, channel_id=channel_id, period=period, since_at=since, at=now,
                             message_key=key))
            s.flush()
            outbox.enqueue(s, key=key, team_id=team_id, channel_id=channel_id, template="digest",
                           payload={"digest": digest}, now=now)
    except IntegrityError:
        return False  # another replica posted this period's digest a moment ago
    return True


def forecast_lines(s: Session, team_id: str, channel_id: str, rows: list[dict], now: datetime) -> None:
    """Each running row's projection (":crystal_ball: ..."), or None when no target of this
    channel applies or there is too little data (the digest's rows are short). The runs, their
    targets and their kept points are read once for the whole digest: a few queries for 500
    runs, not three per run."""
    ids = [row["id"] for row in rows]
    runs = {run.id: run for run in s.scalars(select(Run).where(sets.one_of(s, Run.id, ids, Integer())))} if ids else {}
    watching = tq.targets_for_runs(s, list(runs.values()))
    chosen = {run_id: target for run_id, run in runs.items()
              if (target := _channel_target(watching[run_id], run, team_id, channel_id)) is not None}
    history: dict[int, list] = {}
    for metric in {t.metric for t in chosen.values()}:
        history.update(points.history(s, [i for i, t in chosen.items() if t.metric == metric], metric))
    for row in rows:
        target = chosen.get(row["id"])
        projected = None if target is None else forecast(history.get(row["id"], []), tq.rule_of(target), now,
                                                         runs[row["id"]].total_steps)
        known = projected is not None and projected.kind is not ForecastKind.UNKNOWN
        row["forecast"] = f":crystal_ball: {forecast_line(projected, now)}" if known else None


def _channel_target(targets: list[Target], run: Run, team_id: str, channel_id: str) -> Target | None:
    """The first of this channel's targets on a running run whose metric the run logs."""
    if run.state != "running":
        return None
    return next((t for t in targets if (t.team_id, t.channel_id) == (team_id, channel_id)
                 and t.metric in (run.metrics or {})), None)


MAX_BOARDS = 3  # metrics with a target whose top runs a digest shows


def leaderboards(s: Session, team_id: str, channel_id: str, now: datetime) -> list[dict]:
    """The top runs per target metric, each saying whether a new run took the lead since the last
    digest; the leader shown is remembered (per team, channel and metric) for the next one."""
    goals = lq.goals(s, team_id, channel_id)
    if not goals:
        return []
    entries = lq.entries(s, team_id, channel_id)
    boards = []
    for metric in sorted(goals)[:MAX_BOARDS]:
        maximize = direction(metric, goals, None)
        shown = board(entries, metric, maximize, goals[metric], DIGEST_ROWS)
        top = shown["rows"][0] if shown["rows"] else None
        shown["new_best"] = new_leader(lq.last_leader(s, team_id, channel_id, metric), top, maximize)
        if top is not None:
            lq.remember_leader(s, team_id, channel_id, metric, top["run_id"], top["name"], top["value"], now)
        boards.append(shown)
    return boards
