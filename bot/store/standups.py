"""Queries and compare-and-set updates for schedules, standup rounds and answers.

Every state change a job makes is an UPDATE ... WHERE <still in the old state> with a rowcount
check, so when several replicas run the same job on the same round, one of them wins each step.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, delete, select, update
from sqlalchemy.orm import Session

from bot.store import sets
from bot.store.models import Schedule, StandupAnswer, StandupRound, UserProfile

WINDOW_MINUTES = 240  # how long a member has to answer after their prompt
REMIND_MINUTES = 60  # the one reminder goes out this long before the window closes


def enabled_schedules(s: Session, kind: str) -> list[Schedule]:
    query = select(Schedule).where(Schedule.kind == kind, Schedule.enabled.is_(True)).order_by(Schedule.id)
    return list(s.scalars(query))


def schedule_of(s: Session, team_id: str, channel_id: str, kind: str) -> Schedule | None:
    return s.scalar(select(Schedule).where(Schedule.team_id == team_id, Schedule.channel_id == channel_id,
                                           Schedule.kind == kind))


def window(config: dict[str, Any] | None) -> timedelta:
    return timedelta(minutes=int((config or {}).get("window_minutes") or WINDOW_MINUTES))


def remind_lead(config: dict[str, Any] | None) -> timedelta:
    return timedelta(minutes=int((config or {}).get("remind_minutes") or REMIND_MINUTES))


def has_round(s: Session, team_id: str, channel_id: str, period: str) -> bool:
    query = select(StandupRound.id).where(StandupRound.team_id == team_id, StandupRound.channel_id == channel_id,
                                          StandupRound.period == period)
    return s.scalar(query) is not None


def open_rounds(s: Session) -> list[StandupRound]:
    return list(s.scalars(select(StandupRound).where(StandupRound.summary_key.is_(None)).order_by(StandupRound.id)))


def running_round(s: Session, team_id: str, channel_id: str, now: datetime) -> StandupRound | None:
    """The channel's standup that people are answering right now: an ad-hoc one, or a
    scheduled one somebody has been asked in, whose window has not closed."""
    asked = select(StandupAnswer.round_id).where(StandupAnswer.prompted_at.is_not(None))
    query = select(StandupRound).where(
        StandupRound.team_id == team_id,
        StandupRound.channel_id == channel_id,
        StandupRound.summary_key.is_(None),
        StandupRound.closes_at > now,
        StandupRound.period.startswith("now-") | StandupRound.id.in_(asked),
    )
    return s.scalar(query.order_by(StandupRound.id.desc()).limit(1))


def drop_unstarted_rounds(s: Session, team_id: str, channel_id: str) -> int:
    """Forget the channel's planned rounds nobody has been asked in yet, so a changed or
    stopped schedule is not followed by prompts planned under the old one."""
    started = select(StandupAnswer.round_id).where(StandupAnswer.prompted_at.is_not(None))
    stmt = delete(StandupRound).where(
        StandupRound.team_id == team_id,
        StandupRound.channel_id == channel_id,
        StandupRound.summary_key.is_(None),
        StandupRound.id.not_in(started),
    )
    return s.execute(stmt.execution_options(synchronize_session=False)).rowcount


def answers_of(s: Session, round_id: int) -> list[StandupAnswer]:
    query = select(StandupAnswer).where(StandupAnswer.round_id == round_id).order_by(StandupAnswer.id)
    return list(s.scalars(query))


def pending_of_user(s: Session, team_id: str, user_id: str, now: datetime) -> list[StandupAnswer]:
    """The user's answers still open in this team (not answered, skipped or away, window not over)."""
    in_team = select(StandupRound.id).where(StandupRound.team_id == team_id)
    query = select(StandupAnswer).where(
        StandupAnswer.user_id == user_id, StandupAnswer.status == "pending", StandupAnswer.due_at > now,
        StandupAnswer.round_id.in_(in_team),
    )
    return list(s.scalars(query))


def previous_prompt(s: Session, team_id: str, channel_id: str, user_id: str, before: datetime) -> datetime | None:
    """When this member was last prompted in this channel before `before`: "since my last standup"."""
    query = (
        select(StandupAnswer.prompt_at)
        .join(StandupRound, StandupRound.id == StandupAnswer.round_id)
        .where(
            StandupRound.team_id == team_id,
            StandupRound.channel_id == channel_id,
            StandupAnswer.user_id == user_id,
            StandupAnswer.prompted_at.is_not(None),
            StandupAnswer.prompt_at < before,
        )
        .order_by(StandupAnswer.prompt_at.desc())
        .limit(1)
    )
    return s.scalar(query)


def claim_answer(s: Session, answer_id: int, column: str, now: datetime, **also: Any) -> bool:
    """Set answers.<column> = now if it is still empty; True for the one caller that did."""
    return answer_id in claim_answers(s, [answer_id], column, now, **also)


def claim_answers(s: Session, answer_ids: list[int], column: str, now: datetime, **also: Any) -> set[int]:
    """claim_answer for many answers in one statement: the ids this caller claimed (another
    replica claimed the others first)."""
    if not answer_ids:
        return set()
    col = getattr(StandupAnswer, column)
    stmt = (
        update(StandupAnswer)
        .where(sets.one_of(s, StandupAnswer.id, answer_ids, Integer()), col.is_(None))
        .values({column: now, **also})
        .returning(StandupAnswer.id)
        .execution_options(synchronize_session=False)
    )
    return set(s.scalars(stmt))


def set_status(s: Session, answer_id: int, status: str, from_status: str = "pending") -> bool:
    stmt = (
        update(StandupAnswer)
        .where(StandupAnswer.id == answer_id, StandupAnswer.status == from_status)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    return s.execute(stmt).rowcount == 1


def mark_away(s: Session, answer_ids: list[int]) -> None:
    """The pending answers of members who turned out to be away, in one statement."""
    if answer_ids:
        s.execute(update(StandupAnswer)
                  .where(sets.one_of(s, StandupAnswer.id, answer_ids, Integer()), StandupAnswer.status == "pending")
                  .values(status="away").execution_options(synchronize_session=False))


def away_now(s: Session, team_id: str, user_ids: list[str], now: datetime) -> set[str]:
    """Which of these members set an absence that lasts past `now` (one query for a round)."""
    if not user_ids:
        return set()
    query = select(UserProfile.user_id).where(UserProfile.team_id == team_id,
                                              sets.one_of(s, UserProfile.user_id, user_ids, String()),
                                              UserProfile.away_until > now)
    return set(s.scalars(query))


def claim_summary(s: Session, round_id: int, key: str) -> bool:
    stmt = (
        update(StandupRound)
        .where(StandupRound.id == round_id, StandupRound.summary_key.is_(None))
        .values(summary_key=key)
        .execution_options(synchronize_session=False)
    )
    return s.execute(stmt).rowcount == 1


def has_later_prompts(s: Session, rnd: StandupRound) -> bool:
    """Whether some member of the round is asked after it opened (`standup now` at their night)."""
    later = select(StandupAnswer.id).where(StandupAnswer.round_id == rnd.id, StandupAnswer.prompt_at > rnd.created_at)
    return s.scalar(later.limit(1)) is not None


def day_label(period: str, opens_at: datetime, tz: str = "UTC") -> str:
    """"Mon 23 Nov" for a dated round; ad-hoc rounds (`/ready standup now`) by their start, as a
    Slack date token so each reader sees their own time (templates show the label unescaped)."""
    try:
        day = dt.date.fromisoformat(period)
    except ValueError:
        fallback = opens_at.strftime("%a %d %b %H:%M UTC")
        return f"ad-hoc, <!date^{int(opens_at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
    return day.strftime("%a %d %b")
