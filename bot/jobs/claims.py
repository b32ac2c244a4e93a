"""Per-connection poll claims: how every replica shares the polling.

Each polled connection has a row in `connection_polls` with the time it is next due. A
replica claims one due row at a time (its `claimed_until` a few intervals ahead), polls that
connection, and gives the row back with the next due time, claiming its next row in that same
transaction (claim_in: one commit per polled connection). So N replicas poll N times the
connections, and a slow or timing-out tracker holds only its own row. A replica that dies
mid-poll gives its rows back when their claims run out.

- PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` lets replicas claim distinct rows without
  waiting on each other (https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
- SQLite has no SKIP LOCKED: a compare-and-set UPDATE with a row-count check, inside a
  transaction that starts with BEGIN IMMEDIATE (bot/store/db.py).

After an error the connection backs off exponentially (one interval, doubling, capped at
MAX_BACKOFF); a success resets it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, or_, select, update
from sqlalchemy.orm import Session

from bot.store.db import Store
from bot.store.models import ConnectionPoll
from bot.store.sets import insert, one_of, one_of_param

MAX_BACKOFF = timedelta(minutes=30)


def ensure(s: Session, connection_ids: Collection[int], now: datetime) -> None:
    """A poll row for every connection that has work, due at once when new."""
    have = set(s.scalars(select(ConnectionPoll.connection_id).where(
        one_of(s, ConnectionPoll.connection_id, connection_ids, Integer()))))
    missing = [cid for cid in connection_ids if cid not in have]
    if missing:
        s.execute(insert(s, ConnectionPoll).values([dict(connection_id=cid, next_poll_at=now, errors=0)
                                                     for cid in missing]).on_conflict_do_nothing())


def claim(store: Store, candidates: Collection[int], holder: str, now: datetime, ttl: timedelta,
          due_only: bool = True) -> tuple[int, str] | None:
    """Claim one of the candidate connections (the most overdue first): (its id, the claim
    token to give it back with), or None when every candidate is claimed elsewhere or not due."""
    if not candidates:
        return None
    with store.tx() as s:
        return claim_in(s, candidates, holder, now, ttl, due_only)


def claim_in(s: Session, candidates: Collection[int], holder: str, now: datetime, ttl: timedelta,
             due_only: bool = True) -> tuple[int, str] | None:
    """claim, inside a transaction of the caller's: the poll claims its next connection in the
    transaction that records the last one's answer, so a polled connection costs one commit.
    The claim holds only once that transaction has committed. One statement,
    `UPDATE ... WHERE connection_id = (SELECT ... LIMIT 1) RETURNING`, built once."""
    if not candidates:
        return None
    token = f"{holder}/{uuid.uuid4().hex[:12]}"
    claimed = s.connection().execute(_claim_statement(s.get_bind().dialect.name, due_only), {
        "ids": list(candidates), "now": now, "token": token, "until": now + ttl}).scalar()
    return (claimed, token) if claimed is not None else None


@functools.cache
def _claim_statement(dialect: str, due_only: bool):  # noqa: ANN202 - a SQLAlchemy Update
    # Built once per database kind: building the statement anew cost more of our CPU than sending it.
    polls = ConnectionPoll.__table__.c
    now = bindparam("now", type_=ConnectionPoll.__table__.c.next_poll_at.type)
    free = or_(polls.claimed_until.is_(None), polls.claimed_until < now)
    pick = (select(polls.connection_id).where(one_of_param(dialect, polls.connection_id, "ids", Integer()), free)
            .order_by(polls.next_poll_at, polls.connection_id).limit(1))
    if due_only:
        pick = pick.where(polls.next_poll_at <= now)
    if dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    # `free` again in the UPDATE: the compare-and-set that makes SQLite's claim safe.
    return (update(ConnectionPoll.__table__).where(polls.connection_id == pick.scalar_subquery(), free)
            .values(claimed_by=bindparam("token"), claimed_until=bindparam("until", type_=polls.claimed_until.type))
            .returning(polls.connection_id))


def release(s: Session, connection_id: int, token: str | None, now: datetime, started: datetime,
            every: timedelta, ok: bool) -> None:
    """Give the claim back with the poll's outcome: due one interval after this poll started
    after a success, later and later after errors in a row. token None (a poll without a
    claim, as tests and `readybot poll` may make) records the outcome only when nobody holds
    the row; a claim that ran out and was taken over is the new holder's to give back."""
    if ok:  # the common case, in one statement built once: no read of the row first
        s.connection().execute(_RELEASED_BY_NOBODY if token is None else _RELEASED, {
            "polled_id": connection_id, "token": token, "now": now, "due": started + every})
        return
    mine = ConnectionPoll.claimed_by.is_(None) if token is None else ConnectionPoll.claimed_by == token
    row = s.scalar(select(ConnectionPoll).where(ConnectionPoll.connection_id == connection_id, mine))
    if row is None:
        return
    row.claimed_by = None
    row.claimed_until = None
    row.errors = (row.errors or 0) + 1
    row.next_poll_at = now + backoff(row.errors, every)


def _released(mine):  # noqa: ANN001, ANN202 - a SQLAlchemy condition; an Update
    polls = ConnectionPoll.__table__.c
    at = polls.polled_at.type
    return (update(ConnectionPoll.__table__).where(polls.connection_id == bindparam("polled_id"), mine)
            .values(claimed_by=None, claimed_until=None, errors=0, polled_at=bindparam("now", type_=at),
                    next_poll_at=bindparam("due", type_=at)))


_RELEASED = _released(ConnectionPoll.__table__.c.claimed_by == bindparam("token"))
_RELEASED_BY_NOBODY = _released(ConnectionPoll.__table__.c.claimed_by.is_(None))


def backoff(errors: int, every: timedelta) -> timedelta:
    """One interval after the first error, doubling with each error in a row, capped."""
    every = max(every, timedelta(seconds=1))
    return min(every * 2 ** max(errors - 1, 0), max(MAX_BACKOFF, every))


def last_polled(s: Session, connection_id: int) -> datetime | None:
    return s.scalar(select(ConnectionPoll.polled_at).where(ConnectionPoll.connection_id == connection_id))
