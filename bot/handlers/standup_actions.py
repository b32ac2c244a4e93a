"""What the standup buttons and modals do: answer (pre-filled with the member's run updates),
skip today, be away until a date, edit the channel's questions. Plain functions over Services
so they are testable without Slack; bot/listeners/standup_actions.py wires them to Bolt."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.core.row_ids import row_id
from bot.core.schedules import local_date, zone
from bot.core.standups import prefill, questions_of, run_changes, runs_of
from bot.handlers.base import Problem
from bot.notify import outbox
from bot.notify.standup_messages import answer_view, away_view, questions_view
from bot.services import Services
from bot.store import facts
from bot.store import standups as q
from bot.store.models import StandupAnswer, StandupRound
from bot.store.profiles import set_away

FIRST_SINCE = timedelta(days=1)  # a member's first standup looks back one day
NO_STANDUP = "Set a standup first with `/ready standup at &lt;HH:MM&gt;`."


def load_own_answer(s: Session, answer_id: str | int, user_id: str, team_id: str) -> tuple[StandupAnswer, StandupRound]:
    """The clicker's own answer row. A user id is only someone within their team: the same id in
    a payload from another team is another person (issue 12)."""
    answer = s.get(StandupAnswer, found) if (found := row_id(answer_id)) is not None else None
    rnd = s.get(StandupRound, answer.round_id) if answer is not None else None
    if answer is None or rnd is None or (rnd.team_id, answer.user_id) != (team_id, user_id):
        raise Problem("This standup prompt is not yours, or it no longer exists.")
    return answer, rnd


def answer_modal(services: Services, answer_id: str, user_id: str, team_id: str) -> dict[str, Any]:
    now = services.clock()
    with services.store.tx() as s:
        answer, rnd = load_own_answer(s, answer_id, user_id, team_id)
        questions = list(rnd.questions or questions_of(None))
        previous = list((answer.answers or {}).get("answers") or [])
        if not previous:
            previous = [_run_updates(s, rnd, answer, now)]
    day = q.day_label(rnd.period, rnd.opens_at)
    return answer_view(answer.id, f"<#{rnd.channel_id}>", day, questions, previous)


def _run_updates(s: Session, rnd: StandupRound, answer: StandupAnswer, now: dt.datetime) -> str:
    """The member's runs that changed since their last standup; the channel's when none is theirs."""
    since = (q.previous_prompt(s, rnd.team_id, rnd.channel_id, answer.user_id, answer.prompt_at)
             or answer.prompt_at - FIRST_SINCE)
    runs = facts.channel_run_facts(s, rnd.team_id, rnd.channel_id)
    mine = runs_of(runs, answer.owner_keys or [])
    scope = mine or runs
    lines = run_changes(scope, facts.alerts_since(s, [r.id for r in scope], since), since, now, answer.tz)
    if not lines:
        return ""
    return prefill(lines, "" if mine else "Run updates in the channel:")


def submit_answer(services: Services, answer_id: str, user_id: str, team_id: str, texts: list[str]) -> None:
    """Store the answer and thread it under the standup message; a second submission edits it."""
    now = services.clock()
    with services.store.tx() as s:
        answer, rnd = load_own_answer(s, answer_id, user_id, team_id)
        rev = int((answer.answers or {}).get("rev") or 0) + 1
        answer.answers = {"answers": texts, "rev": rev}
        answer.submitted_at, answer.status = now, "answered"
        items = [{"question": question, "answer": text} for question, text in zip(rnd.questions or [], texts, strict=False)]
        payload = {"user_id": user_id, "items": items, "late": now > answer.due_at, "edited": rev > 1}
        first_key = answer_key(rnd.id, user_id, 1)
        if rev == 1:
            outbox.enqueue(s, key=first_key, team_id=rnd.team_id, channel_id=rnd.channel_id,
                           template="standup_answer", payload=payload, now=now, parent_key=rnd.message_key)
        else:
            outbox.enqueue(s, key=answer_key(rnd.id, user_id, rev), team_id=rnd.team_id, channel_id=rnd.channel_id,
                           op="update", template="standup_answer", payload=payload, now=now, parent_key=first_key)
        edit_prompts(s, rnd, answer, {"status": "answered", "rev": rev}, f"answered{rev}", now)


def answer_key(round_id: int, user_id: str, rev: int) -> str:
    """The outbox key of an answer's thread message: the first post, or the edit of revision `rev`."""
    first = f"standup:{round_id}:{user_id}:answer"
    return first if rev <= 1 else f"{first}:rev{rev}"


PROMPTS = ("prompt", "standup_prompt"), ("reminder", "standup_reminder")  # the DMs with the choice buttons


def edit_prompts(s: Session, rnd: StandupRound, answer: StandupAnswer, outcome: dict[str, Any], tag: str,
                 now: dt.datetime) -> bool:
    """Edit the member's prompt (and reminder, if sent) to say what they chose, through the outbox
    like every message; `tag` names this change, so a repeated click edits once. True when a
    prompt was there to edit."""
    edited = False
    for suffix, template in PROMPTS:
        key = f"standup:{rnd.id}:{answer.user_id}:{suffix}"
        prompt = outbox.find(s, key)
        if prompt is None:
            continue
        outbox.enqueue(s, key=f"{key}:{tag}", team_id=rnd.team_id, channel_id=answer.user_id, op="update",
                       template=template, payload={**(prompt.payload or {}), "outcome": outcome}, now=now,
                       parent_key=key)
        edited = True
    return edited


def skip(services: Services, answer_id: str, user_id: str, team_id: str) -> str | None:
    """None when skipped (the prompt is edited to say so), else what to tell the member."""
    now = services.clock()
    with services.store.tx() as s:
        answer, rnd = load_own_answer(s, answer_id, user_id, team_id)
        if q.set_status(s, answer.id, "skipped"):
            if edit_prompts(s, rnd, answer, {"status": "skipped"}, "skipped", now):
                return None
            return f":fast_forward: Skipped the <#{rnd.channel_id}> standup for {q.day_label(rnd.period, rnd.opens_at)}."
        return {
            "answered": ":white_check_mark: You already answered this standup.",
            "skipped": ":fast_forward: You already skipped this standup.",
        }.get(answer.status, ":palm_tree: You are marked away for this standup.")


def away_modal(services: Services, answer_id: str, user_id: str, team_id: str) -> dict[str, Any]:
    with services.store.tx() as s:
        answer, _ = load_own_answer(s, answer_id, user_id, team_id)
        today = local_date(services.clock(), answer.tz)
    return away_view(str(answer.id), today.isoformat())


def go_away(services: Services, answer_id: str, user_id: str, team_id: str, until: str) -> str | None:
    """Away through the chosen local date: prompts stop, open standups count the member away.
    None when the open prompts were edited to say so, else what to tell the member."""
    now = services.clock()
    with services.store.tx() as s:
        answer, _ = load_own_answer(s, answer_id, user_id, team_id)
        tz = answer.tz
    try:
        last = dt.date.fromisoformat(until)
    except ValueError:
        raise Problem("Pick a date.") from None
    if last < local_date(now, tz):
        raise Problem("Pick today or a later date.")
    back = dt.datetime.combine(last + timedelta(days=1), dt.time(0, 0), tzinfo=zone(tz)).astimezone(dt.UTC)
    set_away(services.store, team_id, user_id, back, now)
    edited = False
    with services.store.tx() as s:
        for pending in q.pending_of_user(s, team_id, user_id, now):
            if q.set_status(s, pending.id, "away"):
                outcome = {"status": "away", "until": f"{last:%a %d %b}"}
                edited |= edit_prompts(s, s.get(StandupRound, pending.round_id), pending, outcome,
                                       f"away{last:%Y%m%d}", now)
    if edited:
        return None
    return f":palm_tree: You are away until {last:%a %d %b}; no standup prompts until then."


def questions_modal(services: Services, team_id: str, channel_id: str, clicked_in: str | None) -> dict[str, Any]:
    """The questions form of the channel the button names; it must be the channel it was clicked
    in (the button sits under `/ready standup at` there), so no other channel's can be edited."""
    if channel_id != clicked_in:
        raise Problem("Those are the standup questions of another channel; nothing was changed.")
    with services.store.tx() as s:
        schedule = q.schedule_of(s, team_id, channel_id, "standup")
        if schedule is None:
            raise Problem(NO_STANDUP)
        questions = questions_of(schedule.questions)
    return questions_view(channel_id, questions)


def save_questions(services: Services, team_id: str, channel_id: str, text: str) -> list[str]:
    questions = questions_of({"questions": text.splitlines()})
    with services.store.tx() as s:
        schedule = q.schedule_of(s, team_id, channel_id, "standup")
        if schedule is None:
            raise Problem(NO_STANDUP)
        # A new dict: JSON columns only notice reassignment, not in-place edits.
        schedule.questions = {**(schedule.questions or {}), "questions": questions}
    return questions
