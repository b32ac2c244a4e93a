"""GET /calendar/<token>.ics: a channel's reviews as an iCalendar feed.

The token is the only credential a calendar app can carry, so it is long and random, and an
unknown token gets the same 404 as a malformed one.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.core.reviews import CANCELLED
from bot.httpio import Response, json_response
from bot.services import Services
from bot.store import reviews as rq
from bot.store.models import Review
from integrations.calendar import ics

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MEETING_LENGTH = timedelta(hours=1)
HISTORY = timedelta(days=90)  # past reviews kept in the feed, so calendars keep their history


def serve_feed(services: Services, rest: str) -> Response:
    """`rest` is the path after /calendar/: <token>.ics."""
    token = rest.removesuffix(".ics")
    if not rest.endswith(".ics") or not TOKEN.fullmatch(token):
        return json_response(404, {"ok": False, "error": "not found"})
    body = feed(services, token)
    if body is None:
        return json_response(404, {"ok": False, "error": "not found"})
    # no-cache: calendar apps poll, and a postponed review should move on their next poll.
    return "200 OK", [("Content-Type", "text/calendar; charset=utf-8"), ("Cache-Control", "no-cache")], body


def feed(services: Services, token: str) -> bytes | None:
    now = services.clock()
    with services.store.tx() as s:
        channel = rq.channel_of_token(s, token)
        if channel is None:
            return None
        reviews = s.scalars(
            select(Review)
            .where(Review.team_id == channel.team_id, Review.channel_id == channel.channel_id,
                   Review.at >= now - HISTORY)
            .order_by(Review.at, Review.id)
        )
        events = [_event(review, [run.name or run.ref for run, _ in rq.review_runs(s, review.id)])
                  for review in reviews]
    return ics.calendar("readybot reviews", events, now)


def _event(review: Review, runs: list[str]) -> ics.Event:
    description = f"Results review #{review.id} ({review.state}). Runs: {', '.join(runs) or 'none'}."
    return ics.Event(
        uid=f"readybot-review-{review.team_id}-{review.id}",
        start=review.at,
        end=review.at + MEETING_LENGTH,
        summary=review.title,
        description=description,
        sequence=review.sequence,
        cancelled=review.state == CANCELLED,
    )

