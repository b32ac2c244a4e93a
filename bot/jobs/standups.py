"""The standup job, run every minute on every replica.

1. Open the rounds whose day has begun somewhere (one per team, channel and local date).
2. For each open round: DM each member when their own time comes (unless they are away),
   remind once before their window closes, and when the last window closes post the summary.

Each step is a compare-and-set on the answer or round row plus an outbox row with a dedupe key,
so any number of replicas running this together still send each message once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.core.schedules import Cadence, open_standup_days, reminder_due
from bot.core.standups import tally
from bot.jobs.standup_rounds import open_scheduled
from bot.notify import outbox
from bot.services import Services
from bot.store import standups as q
from bot.store.models import StandupAnswer, StandupRound

log = logging.getLogger(__name__)
JOB_SECONDS = 60
RETRY_LISTING = timedelta(minutes=1)  # after conversations.members failed for a channel


def standup_tick(services: Services) -> None:
    now = services.clock()
    open_due_rounds(services, now)
    with services.store.tx() as s:
        round_ids = [r.id for r in q.open_rounds(s)]
    for round_id in round_ids:
        advance_round(services, round_id, now)


def open_due_rounds(services: Services, now: datetime) -> None:
    with services.store.tx() as s:
        schedules = q.enabled_schedules(s, "standup")
    retry_at = services.standup_retry_at
    for schedule in schedules:
        cadence = Cadence.of(schedule.time, schedule.days)
        for day in open_standup_days(cadence, now, q.window(schedule.questions)):
            with services.store.tx() as s:
                exists = q.has_round(s, schedule.team_id, schedule.channel_id, day.isoformat())
            if exists or retry_at.get((schedule.team_id, schedule.channel_id, day), now) > now:
                continue
            if open_scheduled(services, schedule, day, now) is None:
                _cannot_open(services, schedule, day, now)
                retry_at[(schedule.team_id, schedule.channel_id, day)] = now + RETRY_LISTING


def _cannot_open(services: Services, schedule, day, now: datetime) -> None:  # noqa: ANN001
    """Slack would not list the channel's members: say so once, rather than skip the standup in
    silence, and try again a minute later (a job tick may be much shorter than that)."""
    with services.store.tx() as s:
        if q.has_round(s, schedule.team_id, schedule.channel_id, day.isoformat()):
            return  # another replica opened it
        outbox.enqueue(s, key=f"standup:{schedule.team_id}:{schedule.channel_id}:{day.isoformat()}:unlisted",
                       team_id=schedule.team_id,
                       channel_id=schedule.channel_id, template="standup_unlisted",
                       payload={"day": q.day_label(day.isoformat(), now)}, now=now)


def advance_round(services: Services, round_id: int, now: datetime) -> None:
    with services.store.tx() as s:
        rnd = s.get(StandupRound, round_id)
        if rnd is None or rnd.summary_key is not None:
            return
        schedule = q.schedule_of(s, rnd.team_id, rnd.channel_id, "standup")
        lead = q.remind_lead(schedule.questions if schedule else None)
        # A stopped schedule asks nobody new; those already asked still get their reminder and summary.
        paused = not rnd.period.startswith("now-") and (schedule is None or not schedule.enabled)
        answers = q.answers_of(s, rnd.id)
        pending = [a for a in answers if a.status == "pending"]
        due = [a for a in pending if a.prompted_at is None and not paused and a.prompt_at <= now < a.due_at]
        prompt(s, rnd, due, now)
        for answer in pending:
            if answer.prompted_at and answer.reminded_at is None and reminder_due(
                answer.prompt_at, answer.due_at, lead, now
            ):
                remind(s, rnd, answer, now)
        if now >= rnd.closes_at:
            close(s, rnd, answers, now)


def head_payload(rnd: StandupRound, **extra: object) -> dict:
    label = q.day_label(rnd.period, rnd.opens_at)
    return {"channel_id": rnd.channel_id, "day": label, "closed": False, **extra}


def prompt(s: Session, rnd: StandupRound, answers: list[StandupAnswer], now: datetime) -> None:
    """DM these members their prompt, but those away: a few statements for the whole round
    (who is away, one claim, the channel message) and then one queued DM each."""
    if not answers:
        return
    away = q.away_now(s, rnd.team_id, [a.user_id for a in answers], now)
    q.mark_away(s, [a.id for a in answers if a.user_id in away])
    claimed = q.claim_answers(s, [a.id for a in answers if a.user_id not in away], "prompted_at", now)
    asked = [a for a in answers if a.id in claimed]  # another replica may have asked the rest
    if not asked:
        return
    # The channel message goes out with the first prompt: answers are threaded under it.
    outbox.enqueue(s, key=rnd.message_key, team_id=rnd.team_id, channel_id=rnd.channel_id,
                   template="standup_open", payload=head_payload(rnd, later=q.has_later_prompts(s, rnd)), now=now)
    for answer in asked:
        outbox.enqueue(s, key=f"standup:{rnd.id}:{answer.user_id}:prompt", team_id=rnd.team_id,
                       channel_id=answer.user_id, op="dm", template="standup_prompt",
                       payload=dm_payload(rnd, answer), now=now)


def dm_payload(rnd: StandupRound, answer: StandupAnswer) -> dict:
    return {
        "answer_id": answer.id,
        "channel_id": rnd.channel_id,
        "day": q.day_label(rnd.period, rnd.opens_at),
        "questions": list(rnd.questions or []),
        "due_at": answer.due_at.isoformat(),
    }


def remind(s: Session, rnd: StandupRound, answer: StandupAnswer, now: datetime) -> None:
    if q.claim_answer(s, answer.id, "reminded_at", now):
        outbox.enqueue(s, key=f"standup:{rnd.id}:{answer.user_id}:reminder", team_id=rnd.team_id,
                       channel_id=answer.user_id, op="dm", template="standup_reminder",
                       payload=dm_payload(rnd, answer), now=now)


def close(s: Session, rnd: StandupRound, answers: list[StandupAnswer], now: datetime) -> None:
    if outbox.find(s, rnd.message_key) is None:
        q.claim_summary(s, rnd.id, "none")  # nobody was asked (all away, or no members): nothing to sum up
        return
    key = f"{rnd.message_key}:summary"
    if not q.claim_summary(s, rnd.id, key):
        return
    for answer in answers:
        s.refresh(answer)  # statuses may have changed in this transaction
    # Members never asked (the bot was down through their whole window) are left out.
    result = tally((a.user_id, a.status) for a in answers if a.status != "pending" or a.prompted_at)
    summary = {"day": q.day_label(rnd.period, rnd.opens_at), "answered": result.answered,
               "skipped": result.skipped, "away": result.away, "missing": result.missing, "total": result.total}
    outbox.enqueue(s, key=key, team_id=rnd.team_id, channel_id=rnd.channel_id, template="standup_summary",
                   payload=summary, now=now, parent_key=rnd.message_key)
    outbox.enqueue(s, key=f"{rnd.message_key}:closed", team_id=rnd.team_id, channel_id=rnd.channel_id,
                   op="update", template="standup_open", now=now, parent_key=rnd.message_key,
                   payload=head_payload(rnd, closed=True, answered=len(result.answered), total=result.total))
