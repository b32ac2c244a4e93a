"""Tracker usernames claimed by Slack users (`/ready me`) and each person's settings. One team's
claims never answer for another team."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from bot.core.owners import tracker_key, username_key
from bot.store.models import PersonSetting, TrackerIdentity

MAX_CLAIMS = 20  # per person: more than this is a typo loop, not a person


def identities_of(s: Session, team_id: str, user_id: str) -> list[TrackerIdentity]:
    return list(s.scalars(select(TrackerIdentity).where(TrackerIdentity.team_id == team_id,
                                                        TrackerIdentity.user_id == user_id)
                          .order_by(TrackerIdentity.tracker, TrackerIdentity.username_key)))


def find_claim(s: Session, team_id: str, tracker: str, username: str) -> TrackerIdentity | None:
    return s.scalar(select(TrackerIdentity).where(TrackerIdentity.team_id == team_id,
                                                  TrackerIdentity.tracker == tracker_key(tracker),
                                                  TrackerIdentity.username_key == username_key(username)))


def add_claim(s: Session, team_id: str, tracker: str, username: str, user_id: str, now: datetime) -> TrackerIdentity:
    row = TrackerIdentity(team_id=team_id, tracker=tracker_key(tracker), username=" ".join(username.split()),
                          username_key=username_key(username), user_id=user_id, created_at=now)
    s.add(row)
    s.flush()  # the unique key says here, not at commit, if someone claimed it meanwhile
    return row


def remove_claim(s: Session, claim: TrackerIdentity) -> None:
    s.execute(delete(TrackerIdentity).where(TrackerIdentity.id == claim.id))


def claimants(s: Session, team_id: str, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(tracker key, username key) -> Slack user, for the pairs someone claimed."""
    pairs = sorted(set(wanted))
    if not pairs:
        return {}
    rows = s.execute(select(TrackerIdentity.tracker, TrackerIdentity.username_key, TrackerIdentity.user_id)
                     .where(TrackerIdentity.team_id == team_id,
                            tuple_(TrackerIdentity.tracker, TrackerIdentity.username_key).in_(pairs)))
    return {(tracker, key): user for tracker, key, user in rows}


def usernames_of(s: Session, team_id: str, user_ids: Iterable[str]) -> dict[str, list[str]]:
    """Slack user -> the tracker usernames they claimed (any tracker)."""
    found: dict[str, list[str]] = {}
    rows = s.execute(select(TrackerIdentity.user_id, TrackerIdentity.username)
                     .where(TrackerIdentity.team_id == team_id, TrackerIdentity.user_id.in_(sorted(set(user_ids))))
                     .order_by(TrackerIdentity.id))
    for user_id, username in rows:
        found.setdefault(user_id, []).append(username)
    return found


def mentions_off(s: Session, team_id: str, user_ids: Iterable[str]) -> set[str]:
    users = sorted(set(user_ids))
    if not users:
        return set()
    return set(s.scalars(select(PersonSetting.user_id).where(PersonSetting.team_id == team_id,
                                                             PersonSetting.user_id.in_(users),
                                                             PersonSetting.mentions.is_(False))))


def wants_mentions(s: Session, team_id: str, user_id: str) -> bool:
    row = s.get(PersonSetting, (team_id, user_id))
    return row is None or row.mentions


def set_mentions(s: Session, team_id: str, user_id: str, on: bool, now: datetime) -> None:
    row = s.get(PersonSetting, (team_id, user_id))
    if row is None:
        s.add(PersonSetting(team_id=team_id, user_id=user_id, mentions=on, updated_at=now))
    else:
        row.mentions, row.updated_at = on, now
