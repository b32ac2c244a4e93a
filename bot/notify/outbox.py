"""Transactional outbox: notifications are rows written in the same transaction as the
state change that causes them, each with a dedupe key naming the logical notification.

Writing the same key twice is a no-op, enforced by the unique index (INSERT ... ON
CONFLICT DO NOTHING), so restarts, Slack retries and repeated polls cannot duplicate.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.models import Outbox

CLAIM_SECONDS = 120  # a sender that dies mid-delivery gives its rows back after this


def enqueue(
    session: Session,
    *,
    key: str,
    team_id: str,
    channel_id: str,
    template: str,
    payload: dict[str, Any],
    now: datetime,
    op: str = "post",
    parent_key: str | None = None,
) -> bool:
    """Queue a notification; False if one with this key already exists."""
    values = dict(
        dedupe_key=key[:255],
        team_id=team_id,
        channel_id=channel_id,
        op=op,
        template=template,
        payload=payload,
        parent_key=parent_key,
        status="pending",
        attempts=0,
        not_before=now,
        created_at=now,
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Outbox).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Outbox.id)
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT that returns rows.
    return session.execute(stmt).first() is not None


def claim(session: Session, now: datetime, limit: int = 20) -> list[Outbox]:
    """Claim due rows for delivery. Each row is claimed by exactly one sender.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets replicas claim distinct rows. SQLite has no
    SKIP LOCKED; its writers are serialised by BEGIN IMMEDIATE, so a compare-and-set
    UPDATE with a rowcount check does the same job.
    """
    due = and_(
        Outbox.not_before <= now,
        or_(Outbox.status == "pending", and_(Outbox.status == "sending", Outbox.claimed_until < now)),
    )
    query = select(Outbox).where(due).order_by(Outbox.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    claimed = []
    for row in rows:
        result = session.execute(
            update(Outbox)
            .where(Outbox.id == row.id, Outbox.status == row.status, Outbox.attempts == row.attempts)
            .values(
                status="sending",
                attempts=row.attempts + 1,
                claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            session.refresh(row)
            claimed.append(row)
    return claimed


def find(session: Session, key: str) -> Outbox | None:
    return session.scalar(select(Outbox).where(Outbox.dedupe_key == key))
