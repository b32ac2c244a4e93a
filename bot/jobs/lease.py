"""A leader lease row: jobs that must run on one replica at a time take it first.

Works through transaction-pooling poolers, unlike session advisory locks, which PgBouncer's
transaction mode breaks (https://www.pgbouncer.org/features.html,
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS). See
docs/architecture.md, "How replicas coordinate".
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError

from bot.store.db import Store
from bot.store.models import Lease

# Who this process is, in every lease and claim it takes: one name, so stop() can give back
# everything it holds.
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def acquire(store: Store, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    with store.tx() as s:
        result = s.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.expires_at < now, Lease.holder == holder))
            .values(holder=holder, expires_at=now + ttl)
        )
        if result.rowcount == 1:
            return True
        if s.get(Lease, name) is not None:
            return False
    try:
        with store.tx() as s:
            s.add(Lease(name=name, holder=holder, expires_at=now + ttl))
        return True
    except IntegrityError:
        return False


def release(store: Store, name: str, holder: str) -> None:
    """Give the lease up at shutdown so a restarted replica takes over at once."""
    with store.tx() as s:
        s.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def release_all(store: Store, holder: str = HOLDER) -> int:
    """Give up every lease this holder has, whichever job took it (the scheduler's leased jobs
    and those that lease inside, like calendar sync): a stopping replica hands over at once."""
    with store.tx() as s:
        return s.execute(delete(Lease).where(Lease.holder == holder)).rowcount
