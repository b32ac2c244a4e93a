"""Google Calendar sync: move (or cancel) the event linked to a review after the review changed.

Each review's SEQUENCE names its calendar-visible version; once Google has that version, a
ReviewEvent by "google-calendar" says so ("calendar sequence 2: synced"). Reviews whose current
sequence has no such receipt are the work list, so a failed call is simply retried next minute
and a restart loses nothing. One replica at a time does it (lease): Google's quota is shared.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from bot.core.reviews import CANCELLED, UPCOMING
from bot.jobs import lease
from bot.services import Services
from bot.store.models import Review, ReviewEvent
from integrations.calendar.google import CalendarError, GoogleCalendar, ServiceAccount

log = logging.getLogger(__name__)
ACTOR = "google-calendar"
RECENT = timedelta(days=1)  # a meeting further in the past than this is not moved any more


def receipt(sequence: int) -> str:
    return f"calendar sequence {sequence}"


def calendar_client(services: Services) -> GoogleCalendar | None:
    settings = services.settings
    if services.google_calendar is None and settings.google_credentials_file:
        account = ServiceAccount.from_file(settings.google_credentials_file)
        services.google_calendar = GoogleCalendar(account, settings.google_calendar_id)
    return services.google_calendar


def sync_calendar(services: Services) -> int:
    """Bring linked Google events up to date; returns how many reviews were synced."""
    client = calendar_client(services)
    now = services.clock()
    if client is None or not lease.acquire(services.store, "calendar-sync", lease.HOLDER, now, timedelta(minutes=5)):
        return 0
    synced = 0
    for review in pending(services):
        synced += sync_one(services, client, review)
    return synced


def pending(services: Services) -> list[Review]:
    now = services.clock()
    with services.store.tx() as s:
        reviews = list(s.scalars(
            select(Review).where(
                Review.gcal_event_id.is_not(None),
                Review.state.in_(UPCOMING | {CANCELLED}),
                Review.at >= now - RECENT,
            )
        ))
        notes = {(e.review_id, e.note.partition(":")[0]) for e in s.scalars(
            select(ReviewEvent).where(ReviewEvent.actor == ACTOR,
                                      ReviewEvent.review_id.in_([r.id for r in reviews]))
        )} if reviews else set()
    return [r for r in reviews if (r.id, receipt(r.sequence)) not in notes]


def sync_one(services: Services, client: GoogleCalendar, review: Review) -> int:
    try:
        if review.state == CANCELLED:
            client.cancel_event(review.gcal_event_id)
        else:
            client.move_event(review.gcal_event_id, review.at)
        outcome, ok = "synced", 1
    except CalendarError as exc:
        log.warning("calendar sync of review %s failed: %s", review.id, exc)
        if not exc.permanent:
            return 0  # try again next time
        outcome, ok = f"failed ({exc})", 0  # the event is gone: stop trying for this version
    with services.store.tx() as s:
        s.add(ReviewEvent(review_id=review.id, from_state=review.state, to_state=review.state, actor=ACTOR,
                          note=f"{receipt(review.sequence)}: {outcome}"[:1000], at=services.clock()))
    return ok
