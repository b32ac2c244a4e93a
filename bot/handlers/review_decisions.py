"""What people decide about a review that is not ready: postpone to the ETA, hold it anyway,
or cancel it. Used by the warning's buttons and by `/ready review cancel <id>`.

Every decision is one transaction: the review row is locked, the change recorded with who made
it, and the warnings already posted are queued for an in-place edit that replaces their buttons
with the decision, so a second click finds nothing to press.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.commands.help import USAGE
from bot.core.reviews import CANCELLED, DONE, HELD, POSTPONED, manual_postpone_to
from bot.handlers import permissions
from bot.handlers.base import Problem
from bot.notify.outbox import enqueue
from bot.notify.render import date_token
from bot.notify.review_messages import decided
from bot.services import Services
from bot.store import reviews as rq
from bot.store.models import Outbox, Review, ReviewEvent

WHAT = {POSTPONED: "postponed", HELD: "held", CANCELLED: "cancelled"}
# Decisions that undo what the review's creator planned: theirs or an admin's (issue 12). "Meet as
# planned" keeps the plan, so anyone in the channel may press it.
GUARDED = {POSTPONED: "postpone", CANCELLED: "cancel"}


@dataclass(frozen=True)
class Decision:
    review_id: int
    title: str
    state: str
    at: datetime


def decide(services: Services, review_id: int, to_state: str, user: str, team_id: str, channel_id: str) -> Decision:
    if to_state in GUARDED:
        _require_may(services, review_id, to_state, user, team_id, channel_id)
    now = services.clock()
    with services.store.tx() as s:
        review = rq.lock(s, review_id)
        if review is None or (review.team_id, review.channel_id) != (team_id, channel_id):
            raise Problem(f"There is no review #{review_id} in this channel.", USAGE["reviews"])
        if review.state in (CANCELLED, DONE):
            # A stale button (or a repeated command) on a review that is over: say that first.
            raise Problem(f"Review #{review_id} is already {review.state}; nothing changed.")
        new_at = _postpone_target(s, review, now) if to_state == POSTPONED else None
        try:
            event = rq.change(s, review, to_state, user, now, note=_note(review, new_at), at=new_at)
        except rq.InvalidChange:
            raise Problem(f"Review #{review_id} is already {review.state}; nothing changed.") from None
        close_warnings(s, review, event, now)
        return Decision(review.id, review.title, review.state, review.at)


def _require_may(services: Services, review_id: int, to_state: str, user: str, team_id: str,
                 channel_id: str) -> None:
    """Only the review's creator or a workspace admin may cancel or postpone it; asked before the
    locking transaction, which then says "no such review" or "already over" if that is so."""
    with services.store.tx() as s:
        review = s.get(Review, review_id)
        if review is None or (review.team_id, review.channel_id) != (team_id, channel_id):
            return
        if review.state in (CANCELLED, DONE):
            return
        created_by = review.created_by
    permissions.require(services, team_id, user, created_by, f"{GUARDED[to_state]} review #{review_id}")


def _postpone_target(s: Session, review: Review, now: datetime) -> datetime:
    ready = rq.readiness_of(rq.review_runs(s, review.id))
    try:
        return manual_postpone_to(rq.plan_of(review), ready, now)
    except ValueError as exc:
        if review.state == POSTPONED:  # most likely a second click on the same button
            shown = date_token(review.at)  # a date token: the clicker's own time zone
            raise Problem(f"Review #{review.id} is already postponed to {shown}.") from None
        raise Problem(f"Review #{review.id} cannot be postponed to the ETA: {exc}.") from None


def _note(review: Review, new_at: datetime | None) -> str:
    return f"moved from {review.at.isoformat()} to {new_at.isoformat()}" if new_at else ""


def close_warnings(s: Session, review: Review, event: ReviewEvent, now: datetime) -> None:
    """Edit every warning posted for this review to show the decision instead of buttons."""
    warnings = s.scalars(
        select(Outbox).where(
            Outbox.dedupe_key.like(f"review:{review.id}:%"),
            Outbox.template == "review_warning",
            Outbox.op == "post",
        )
    )
    payload_at = review.at if event.to_state == POSTPONED else None
    for row in warnings:
        enqueue(
            s,
            key=f"{row.dedupe_key}:decided:{event.id}",
            team_id=row.team_id,
            channel_id=row.channel_id,
            template="review_warning",
            payload=decided(row.payload, WHAT.get(event.to_state, event.to_state), event.actor, payload_at),
            now=now,
            op="update",
            parent_key=row.dedupe_key,
        )
