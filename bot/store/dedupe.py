"""Slack request ids already seen, in the database so every replica agrees: Slack delivers an
event again when our ack was slow (X-Slack-Retry-Num). The Bolt middleware that drops the repeat
is bot/listeners/dedupe.py; the scheduler's hourly cleanup forgets old ids here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.store.db import Store
from bot.store.models import SeenRequest

KEEP = timedelta(days=1)  # far longer than Slack keeps retrying a delivery


class Clocked(Protocol):
    """What the cleanup job needs of bot.services.Services (named here so store does not import it)."""

    store: Store
    clock: Callable[[], datetime]


def first_time(store: Store, key: str, now: datetime) -> bool:
    """Remember `key`; False when some replica already did."""
    try:
        with store.tx() as s:
            s.add(SeenRequest(key=key[:255], at=now))
    except IntegrityError:
        return False
    return True


def forget(store: Store, key: str) -> None:
    """Let `key` be new again: the request it named was refused and changed nothing."""
    with store.tx() as s:
        s.execute(delete(SeenRequest).where(SeenRequest.key == key[:255]))


def forget_old(services: Clocked) -> None:
    with services.store.tx() as s:
        s.execute(delete(SeenRequest).where(SeenRequest.at < services.clock() - KEEP))
