"""Transactional outbox: notifications are rows written in the same transaction as the
state change that causes them, each with a dedupe key naming the logical notification.

Writing the same key twice is a no-op, enforced by the unique index (INSERT ... ON
CONFLICT DO NOTHING), so restarts, Slack retries and repeated polls cannot duplicate.

A committed row wakes the dispatcher at once: the transaction notes the topic for the Store's
after-commit hook (this process) and, on PostgreSQL, NOTIFY is sent once it has committed
(other replicas), coalesced across the process's threads (listen.Coalesced).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.notify import turns
from bot.store.db import after_commit, note_commit
from bot.store.listen import Coalesced, notify
from bot.store.models import Outbox

# A claim is short and renewed while its sender works (dispatch.Heartbeat, every RENEW_SECONDS
# and before each row), so the rows of a sender that died are taken over within CLAIM_SECONDS.
CLAIM_SECONDS = 15
RENEW_SECONDS = 5
TOPIC = "outbox"  # the after-commit topic and the PostgreSQL NOTIFY channel of queued rows
CHANNEL = "readybot_outbox"


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
    return bool(enqueue_many(session, [Queued(key, team_id, channel_id, template, payload, op, parent_key)], now))


@dataclass(frozen=True)
class Queued:
    """One notification to queue (enqueue_many): its dedupe key and what it posts where."""

    key: str
    team_id: str
    channel_id: str
    template: str
    payload: dict[str, Any]
    op: str = "post"
    parent_key: str | None = None


def enqueue_many(session: Session, rows: list[Queued], now: datetime) -> set[str]:
    """Queue many notifications in one statement, in their order (rows are posted in the order
    they are queued); returns the keys that were new. The same dedupe semantics as one by one:
    a key already queued, or earlier in `rows`, is skipped."""
    values, seen = [], set()
    for row in rows:
        if row.key[:255] not in seen:
            seen.add(row.key[:255])
            values.append(_values(row, now))
    if not values:
        return set()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        added = set(session.connection().execute(_UNNESTED, _arrays(values, now)).scalars())
    else:
        table = Outbox.__table__
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.dedupe_key)
        # An executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues",
        # 1,000 rows each), compiled once. RETURNING, not rowcount.
        added = set(session.connection().execute(stmt, values).scalars())
    if added:
        _wake_on_commit(session, dialect)
    return added


# PostgreSQL: the rows as one array per column, unnested in their order. One statement text with
# nine parameters whatever the number of rows, so psycopg keeps it parsed and prepared; the
# multi-row VALUES of "insertmanyvalues" had eleven parameters a row, past the 50 psycopg caches
# a statement's parsing for, and a new text for each number of rows. ON CONFLICT DO NOTHING and
# RETURNING as before (psycopg reports -1 for rowcount).
_ARRAYS = ("dedupe_key", "team_id", "channel_id", "op", "template", "payload", "parent_key")
_UNNESTED = text(f"""
    INSERT INTO {Outbox.__tablename__}
        (dedupe_key, team_id, channel_id, op, template, payload, parent_key, status, attempts, not_before, created_at)
    SELECT k, t, c, o, tp, CAST(p AS json), pk, 'pending', 0, :now, :now
    FROM unnest(:dedupe_key, :team_id, :channel_id, :op, :template, :payload, :parent_key)
        WITH ORDINALITY AS r(k, t, c, o, tp, p, pk, n)
    ORDER BY n
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING dedupe_key""").bindparams(
    bindparam("now", type_=Outbox.__table__.c.created_at.type),
    *(bindparam(name, type_=postgresql.ARRAY(String())) for name in _ARRAYS),
).columns(dedupe_key=String())


def _arrays(values: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    arrays: dict[str, Any] = {name: [v[name] for v in values] for name in _ARRAYS}
    arrays["payload"] = [json.dumps(payload) for payload in arrays["payload"]]  # as the JSON column writes it
    return {**arrays, "now": now}


def _values(row: Queued, now: datetime) -> dict[str, Any]:
    return dict(dedupe_key=row.key[:255], team_id=row.team_id, channel_id=row.channel_id, op=row.op,
                template=row.template, payload=row.payload, parent_key=row.parent_key, status="pending",
                attempts=0, not_before=now, created_at=now)


def edit(session: Session, message: Outbox, payload: dict[str, Any], key: str, now: datetime) -> None:
    """Store `payload` as the message's new content and queue the edit that shows it (op
    "update", parent_key the message). `message` should be locked (SELECT ... FOR UPDATE), so
    two edits at once apply in turn. An earlier edit still waiting (backing off after an error)
    would now show less than this one: it is dropped, so an older state never overwrites a newer."""
    message.payload = payload  # a new object: SQLAlchemy does not see in-place JSON changes
    session.execute(
        update(Outbox)
        .where(Outbox.parent_key == message.dedupe_key, Outbox.op == "update", Outbox.status == "pending")
        .values(status="failed", error="superseded by a newer edit")
    )
    enqueue(session, key=key, team_id=message.team_id, channel_id=message.channel_id, template=message.template,
            payload=payload, now=now, op="update", parent_key=message.dedupe_key)


def _wake_on_commit(session: Session, dialect: str) -> None:
    if not note_commit(session, TOPIC):
        return  # this transaction already asked once
    if dialect == "postgresql":
        # After the commit, not in this transaction: a transaction that sent NOTIFY takes a
        # database-wide lock at COMMIT and holds it through its WAL flush, so every replica's
        # commits that queued rows would go one at a time (bot/store/listen.py `notify`).
        after_commit(session, _waker(session.get_bind()))


_WAKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> its coalesced NOTIFY
_WAKERS_LOCK = threading.Lock()


def _waker(engine: Engine) -> Coalesced:
    with _WAKERS_LOCK:
        waker = _WAKERS.get(engine)
        if waker is None:
            ref = weakref.ref(engine)  # not the engine itself: the map must not keep it alive
            waker = _WAKERS[engine] = Coalesced(lambda: notify(ref(), CHANNEL))
        return waker


def claim(session: Session, now: datetime, limit: int = 50, skip_teams: Iterable[str] = (),
          skip_channels: Iterable[tuple[str, str]] = (), served: Iterable[tuple[str, str]] = ()) -> list[Outbox]:
    """Claim due rows for delivery, round-robin over channels: the first due row of every channel
    comes before the second of any, so a channel queued last is not starved by one queued first.
    Returned in that order, each channel's rows in queue order. Each row is claimed by exactly one
    sender. A channel with a row waiting out a 429 is left alone by every sender (its newer rows
    would only be refused too, and then post before the older one).
    Rows of the teams and (team, channel)s this sender saw paused by a 429 are left for when the
    pause ends, so they do not take places in the batch. The (team, channel)s `served` (posted to
    in the sender's last batch) come after the others at the same turn: otherwise a channel's next
    row, older than another channel's first, would keep that channel waiting batch after batch.
    The rows are picked without ranking the whole backlog (bot/notify/turns.py): the cost grows
    with the channels that have unsent rows and the rows taken, not with the rows queued.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets replicas claim distinct rows. It cannot be combined
    with the recursive pick, so the rows are picked first, then locked by id; of a channel only
    the rows before the first one another sender holds are kept (an earlier row it holds would
    otherwise post after a later one here). SQLite has no SKIP LOCKED; its writers are serialised
    by BEGIN IMMEDIATE, so no other sender can change the rows between the statements.
    """
    picked = turns.round_robin(session, now, limit, list(skip_teams), list(skip_channels), list(served))
    if not picked:
        return []
    ids = [row.id for row in picked]
    if session.get_bind().dialect.name == "postgresql":
        locked = set(session.scalars(select(Outbox.id).where(Outbox.id.in_(ids), turns.due(now))
                                     .with_for_update(skip_locked=True)))
        ids = _unbroken(picked, locked)
        if not ids:
            return []
    stmt = (
        update(Outbox)
        .where(Outbox.id.in_(ids), turns.due(now))
        .values(status="sending", attempts=Outbox.attempts + 1,
                claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        .returning(Outbox)
        .execution_options(synchronize_session=False)
    )
    place = {row_id: n for n, row_id in enumerate(ids)}
    return sorted(session.scalars(stmt), key=lambda row: place[row.id])


RATELIMITED = turns.RATELIMITED  # the error of a row put off by a 429: its channel waits as a whole


def _unbroken(picked: list[Any], locked: set[int]) -> list[int]:
    """The picked ids (in order) whose channel had every earlier picked row locked too."""
    broken: set[tuple[str, str]] = set()
    kept = []
    for row in picked:
        key = (row.team_id, row.channel_id)
        if row.id not in locked:
            broken.add(key)
        elif key not in broken:
            kept.append(row.id)
    return kept


def renew(session: Session, held: dict[int, int], until: datetime) -> set[int]:
    """Extend the claims of the rows a sender holds (id -> the attempt it claimed); returns the
    ids still its own. A row another sender has claimed since has a higher attempt count."""
    if not held:
        return set()
    # A row-value IN list: an OR of one AND per row took longer to build than to run.
    mine = tuple_(Outbox.id, Outbox.attempts).in_(list(held.items()))
    stmt = (
        update(Outbox)
        .where(Outbox.status == "sending", mine)
        .values(claimed_until=until)
        .returning(Outbox.id)
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(stmt))


def mark_sent(session: Session, sent: list[dict[str, Any]]) -> None:
    """Mark posted rows sent, in one statement: dicts of row_id, ts, channel and at."""
    _update_each(session, [{"row_id": r["row_id"], "ts": r["ts"], "posted_channel": r["channel"], "sent_at": r["at"]}
                           for r in sent], status="sent", error=None)


def put_back(session: Session, rows: list[dict[str, Any]]) -> None:
    """Return claimed rows to the queue, to be retried, in one statement: dicts of row_id,
    not_before, error and attempts (a wait that was no failed attempt gives one back)."""
    _update_each(session, rows, status="pending", claimed_until=None)


def _update_each(session: Session, rows: list[dict[str, Any]], **same: Any) -> None:
    """One executemany UPDATE by id: each dict holds row_id and the columns it sets to its own
    values; `same` sets columns to one value for all. (A bind parameter may not share a column's
    name in an UPDATE's values, hence the trailing underscore.)"""
    if not rows:
        return
    table = Outbox.__table__
    own = [name for name in rows[0] if name != "row_id"]
    stmt = (
        table.update()
        .where(table.c.id == bindparam("row_id"))
        .values(**same, **{name: bindparam(f"{name}_") for name in own})
    )
    session.connection().execute(stmt, [{"row_id": r["row_id"], **{f"{name}_": r[name] for name in own}}
                                        for r in rows])


def find(session: Session, key: str) -> Outbox | None:
    return session.scalar(select(Outbox).where(Outbox.dedupe_key == key))
