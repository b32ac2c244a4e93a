"""A channel readybot cannot post in: tell the people who set it up.

When a notification fails for good because the bot cannot post in its channel (not invited to a
private channel, the channel deleted or archived), every later one for that channel is lost too,
and nobody in the channel can see that. The dispatcher calls `report` in the transaction that
marks the row failed; it DMs the people who created the channel's watches, targets, reviews and
schedules (the newest MAX_PEOPLE of them), once per person per channel per day: the outbox key
is the whole dedupe, so further failures that day, on any replica, queue nothing more.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.reviews import UPCOMING
from bot.notify.outbox import enqueue
from bot.store.models import Outbox, Review, Schedule, Target, Watch

UNREACHABLE = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
MAX_PEOPLE = 5
TEMPLATE = "channel_unreachable"
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
# Outbox template -> what the channel missed, as the DM names it.
LOST = {
    "run_event": "a run update (finished, failed or stalled)",
    "run_nonfinite": "a NaN/inf loss alert",
    "target_alert": "a target alert",
    "target_chart": "a target alert's chart",
    "experiment_lost": "a notice about an experiment that disappeared",
    "review_scheduled": "a results review notice",
    "review_warning": "a results review notice",
    "review_results": "a results review's results",
    "decision_recorded": "a results review's decision",
    "standup_open": "a standup",
    "standup_summary": "a standup summary",
    "standup_unlisted": "a standup notice",
    "standup_answer": "a standup answer",
    "digest": "the channel digest",
}


def report(s: Session, row: Outbox, error: str, now: datetime) -> int:
    """Queue the DMs for a row that failed with `error`; returns how many were new."""
    if error not in UNREACHABLE or row.op == "dm":  # a DM's "channel" is a person, not a channel set up
        return 0
    payload = {"channel_id": row.channel_id, "error": error, "lost": LOST.get(row.template, "a notification")}
    day = now.date().isoformat()
    queued = 0
    for user in people(s, row.team_id, row.channel_id):
        queued += enqueue(s, key=f"undeliverable:{row.team_id}:{row.channel_id}:{day}:{user}", team_id=row.team_id,
                          channel_id=user, op="dm", template=TEMPLATE, payload=payload, now=now)
    return queued


def people(s: Session, team_id: str, channel_id: str) -> list[str]:
    """Who set up what notifies this channel, newest first, each once, at most MAX_PEOPLE."""
    sources = [
        select(Watch.created_by, Watch.created_at).where(Watch.channel_id == channel_id, Watch.team_id == team_id),
        select(Target.created_by, Target.created_at).where(Target.channel_id == channel_id,
                                                            Target.team_id == team_id, Target.muted_by.is_(None)),
        select(Review.created_by, Review.created_at).where(Review.channel_id == channel_id,
                                                            Review.team_id == team_id, Review.state.in_(UPCOMING)),
        select(Schedule.created_by, Schedule.created_at).where(Schedule.channel_id == channel_id,
                                                                Schedule.team_id == team_id, Schedule.enabled.is_(True)),
    ]
    found = [(at, user) for query in sources for user, at in s.execute(query) if _USER_ID.fullmatch(user or "")]
    newest_first = [user for _, user in sorted(found, key=lambda pair: pair[0], reverse=True)]
    return list(dict.fromkeys(newest_first))[:MAX_PEOPLE]
