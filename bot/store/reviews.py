"""Reviews in the database: their runs, every state change with who made it, and the channel's
calendar feed token. Callers change a review only through `change`, inside a transaction that
holds the review's row lock (`lock`), so replicas and button clicks cannot interleave."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.results import Goal
from bot.core.reviews import CANCELLED, Plan, Readiness, RunStatus, can_change, readiness
from bot.core.targets import Rule
from bot.store.models import ChannelCalendar, Connection, Review, ReviewEvent, ReviewRun, Run, Target

BOT = "readybot"  # the actor of automatic changes


class InvalidChange(ValueError):
    """The review is not in a state where this change makes sense (stale button, repeat)."""


def lock(s: Session, review_id: int) -> Review | None:
    """The review, locked until the transaction ends (FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers), re-read so the caller sees the latest state."""
    return s.get(Review, review_id, with_for_update=True, populate_existing=True)


def change(
    s: Session, review: Review, to_state: str, actor: str, now: datetime, note: str = "",
    at: datetime | None = None,
) -> ReviewEvent:
    """Record a state change (and a new time) with who made it; SEQUENCE follows RFC 5545:
    it grows with each change that calendar clients must re-read (new time, cancellation)."""
    if not can_change(review.state, to_state):
        raise InvalidChange(f"review #{review.id} is {review.state}")
    moved = at is not None and at != review.at
    if moved:
        review.at = at
    if moved or to_state == CANCELLED:
        review.sequence += 1
    event = ReviewEvent(review_id=review.id, from_state=review.state, to_state=to_state, actor=actor,
                        note=note[:1000], at=now)
    review.state = to_state
    s.add(event)
    s.flush()
    return event


def created(s: Session, review: Review, actor: str, now: datetime) -> None:
    s.add(ReviewEvent(review_id=review.id, from_state="new", to_state=review.state, actor=actor,
                      note="scheduled", at=now))


def review_runs(s: Session, review_id: int) -> list[tuple[Run, Connection]]:
    rows = s.execute(
        select(Run, Connection)
        .join(ReviewRun, ReviewRun.run_id == Run.id)
        .join(Connection, Connection.id == Run.connection_id)
        .where(ReviewRun.review_id == review_id)
        .order_by(Run.id)
    )
    return [(r[0], r[1]) for r in rows]


def status(run: Run) -> RunStatus:
    return RunStatus(run.name or run.ref, run.state, run.step, run.total_steps, run.eta)


def readiness_of(runs: list[tuple[Run, Connection]]) -> Readiness:
    return readiness([status(run) for run, _ in runs])


def plan_of(review: Review) -> Plan:
    return Plan(review.state, review.policy, review.at, timedelta(minutes=review.lead_minutes),
                timedelta(minutes=review.buffer_minutes))


def reviews_of_run(s: Session, run_id: int, states: frozenset[str]) -> list[int]:
    return list(
        s.scalars(
            select(Review.id)
            .join(ReviewRun, ReviewRun.review_id == Review.id)
            .where(ReviewRun.run_id == run_id, Review.state.in_(states))
        )
    )


def channel_reviews(s: Session, team_id: str, channel_id: str, states: frozenset[str]) -> list[Review]:
    query = select(Review).where(Review.team_id == team_id, Review.channel_id == channel_id,
                                 Review.state.in_(states))
    return list(s.scalars(query.order_by(Review.at, Review.id)))


def run_key(run: Run) -> str:
    return f"{run.connection_id}:{run.ref}"


def channel_goals(s: Session, team_id: str, channel_id: str, runs: list[Run]) -> list[Goal]:
    """The channel's targets, each with the review runs it covers (an unscoped target: all)."""
    goals = []
    query = select(Target).where(Target.team_id == team_id, Target.channel_id == channel_id)
    for t in s.scalars(query.order_by(Target.id)):
        try:
            rule = Rule(t.metric, t.op, t.threshold)
        except ValueError:  # a malformed stored target must not hide the results
            continue
        covered = None
        if t.scope_ref is not None:
            covered = frozenset(run_key(r) for r in runs if _in_scope(t, r))
        goals.append(Goal(rule, covered))
    return goals


def _in_scope(t: Target, run: Run) -> bool:
    if t.scope_connection_id is not None and t.scope_connection_id != run.connection_id:
        return False
    return run.experiment == t.scope_ref if t.scope_is_experiment else run.ref == t.scope_ref


def calendar_token(s: Session, team_id: str, channel_id: str) -> str:
    """The channel's feed token, made on first use. Unguessable (192 random bits): the URL is
    the only credential a calendar client can carry. One per (team, channel): the same channel
    id in another workspace is another channel with another feed."""
    row = s.get(ChannelCalendar, (team_id, channel_id))
    if row is not None:
        return row.token
    try:
        with s.begin_nested():
            row = ChannelCalendar(channel_id=channel_id, team_id=team_id, token=secrets.token_urlsafe(24))
            s.add(row)
        return row.token
    except IntegrityError:  # another request made it first
        return s.get(ChannelCalendar, (team_id, channel_id), populate_existing=True).token


def channel_of_token(s: Session, token: str) -> ChannelCalendar | None:
    return s.scalar(select(ChannelCalendar).where(ChannelCalendar.token == token))
