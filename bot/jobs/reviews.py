"""The readiness job (check_reviews) and the run pipeline's last step (run_changed, called by
record.update_run) that hold results reviews to their runs.

Safe on any number of replicas: each review is evaluated inside a transaction holding its row
lock, and every message has a dedupe key (review:<id>:<checkpoint>:<meeting time>), so a
warning is written once per review per checkpoint however many replicas look.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.results import RunMetrics, results_table
from bot.core.reviews import (
    DONE,
    POSTPONED,
    READY,
    UPCOMING,
    WAITING,
    Readiness,
    Step,
    manual_postpone_to,
    next_step,
)
from bot.jobs import forecasts
from bot.notify import review_messages as msg
from bot.notify.outbox import enqueue, find
from bot.services import Services
from bot.store import decisions as dq
from bot.store import reviews as rq
from bot.store.models import Connection, Review, Run
from integrations.base import RunState

log = logging.getLogger(__name__)
EVERY_SECONDS = 60


def check_reviews(services: Services) -> int:
    """Evaluate every review before its meeting; returns how many changed or posted."""
    now = services.clock()
    with services.store.tx() as s:
        ids = list(s.scalars(select(Review.id).where(Review.state.in_(UPCOMING)).order_by(Review.at)))
    acted = 0
    for review_id in ids:
        try:
            with services.store.tx() as s:
                review = rq.lock(s, review_id)
                acted += bool(review is not None and evaluate(s, review, now))
        except Exception:  # one broken review must not stop the others
            log.exception("review %s could not be evaluated", review_id)
    return acted


WATCHED = UPCOMING | {DONE}  # the reviews a run's change may complete or break


def run_changed(s: Session, run: Run, now: datetime, review_ids: list[int] | None = None) -> None:
    """A run that just ended may complete a review (or break it): look at once, in the
    transaction that records the run, rather than waiting for the next job. review_ids: the
    run's WATCHED reviews when the caller read them for many runs at once."""
    if not RunState(run.state).is_terminal:
        return
    for review_id in rq.reviews_of_run(s, run.id, WATCHED) if review_ids is None else review_ids:
        try:
            # A savepoint: a failing review must not undo the run update it follows.
            with s.begin_nested():
                review = rq.lock(s, review_id)
                if review is not None:
                    evaluate(s, review, now)
        except Exception:
            log.exception("review %s could not be evaluated after run %s changed", review_id, run.id)


def evaluate(s: Session, review: Review, now: datetime) -> bool:
    runs = rq.review_runs(s, review.id)
    ready = rq.readiness_of(runs)
    step = next_step(rq.plan_of(review), ready, now)
    if step.kind == "results":
        return _results(s, review, runs, now)
    if step.kind == "done":
        rq.change(s, review, DONE, rq.BOT, now, note="the meeting time has come")
        return True
    if step.kind in ("warn", "auto_postpone"):
        return _checkpoint(s, review, runs, ready, step, now)
    return False


def _results(s: Session, review: Review, runs: list[tuple[Run, Connection]], now: datetime) -> bool:
    run_objs = [run for run, _ in runs]
    baseline = s.get(Run, review.baseline_run_id) if review.baseline_run_id else None
    table = results_table(
        [_metrics(run) for run in run_objs],
        rq.channel_goals(s, review.team_id, review.channel_id, run_objs + ([baseline] if baseline else [])),
        _metrics(baseline) if baseline else None,
    )
    if review.state != DONE:
        rq.change(s, review, READY, rq.BOT, now, note="every run has finished")
    payload = {**msg.results_payload(review, table, now), "last_decision": last_decision(s, review, run_objs)}
    return enqueue(s, key=f"review:{review.id}:results", team_id=review.team_id, channel_id=review.channel_id,
                   template="review_results", payload=payload, now=now)


def last_decision(s: Session, review: Review, runs: list[Run]) -> dict | None:
    """What the channel last decided about any of these runs, for the review's messages."""
    found = dq.last_on_runs(s, review.team_id, review.channel_id, [run.id for run in runs])
    return msg.decision_info(found)


def _metrics(run: Run) -> RunMetrics:
    return RunMetrics(rq.run_key(run), run.name or run.ref, run.state, run.metrics or {})


def _checkpoint(s: Session, review: Review, runs: list[tuple[Run, Connection]], ready: Readiness, step: Step,
                now: datetime) -> bool:
    """One message per review, checkpoint and meeting time: the warning, or under the auto
    policy the notice that the review moved."""
    key = f"review:{review.id}:{step.checkpoint}:{review.at.astimezone(UTC).isoformat()}"
    if find(s, key) is not None:
        return False  # already said; the row lock means nobody is saying it right now
    was_at = review.at
    if step.kind == "auto_postpone":
        rq.change(s, review, POSTPONED, rq.BOT, now, at=step.new_at,
                  note=f"auto: moved from {was_at.isoformat()} to the latest ETA plus buffer")
        payload = msg.warning_payload(review, runs, now, auto_from=was_at)
    else:
        payload = msg.warning_payload(review, runs, now, postpone_to=_postpone_hint(review, ready, now))
        if review.state != WAITING:
            rq.change(s, review, WAITING, rq.BOT, now, note=f"not ready at the {step.checkpoint} checkpoint")
    payload["last_decision"] = last_decision(s, review, [run for run, _ in runs])
    for row in payload["waiting"]:  # where each unfinished run is heading against the channel's target
        run = s.get(Run, row["id"])
        row["forecast"] = forecasts.run_line(s, run, review.team_id, review.channel_id, now) if run else None
    return enqueue(s, key=key, team_id=review.team_id, channel_id=review.channel_id,
                   template="review_warning", payload=payload, now=now)


def _postpone_hint(review: Review, ready: Readiness, now: datetime) -> datetime | None:
    try:
        return manual_postpone_to(rq.plan_of(review), ready, now)
    except ValueError:
        return None
