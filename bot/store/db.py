"""Engine and transactions.

SQLite is the embedded default and is set up for concurrent use from the listener
thread pool and the scheduler: WAL, busy_timeout, foreign keys, and write
transactions that start with BEGIN IMMEDIATE so a read never has to upgrade to a
write lock mid-transaction (plain BEGIN fails with "database is locked" under
contention; https://www.sqlite.org/lang_transaction.html).

A transaction can note a topic (`note_commit`, e.g. "a notification was queued"); once it has
committed, the callbacks registered for that topic run (`Store.on_commit`), so whoever waits for
such rows (the dispatcher) learns of them at once rather than at its next tick. `after_commit`
queues work for after the transaction has committed and given its connection back (the
PostgreSQL NOTIFY that wakes other replicas, bot/notify/outbox.py).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
_TOPICS = "readybot_commit_topics"  # key in Session.info
_AFTER = "readybot_after_commit"  # key in Session.info: what Store.tx runs once it has committed


def note_commit(session: Session, topic: str) -> bool:
    """Have `topic`'s callbacks run after this transaction commits (never if it rolls back).
    False if the transaction had already noted it."""
    topics = session.info.setdefault(_TOPICS, set())
    if topic in topics:
        return False
    topics.add(topic)
    return True


IDLE_PING_SECONDS = 60.0  # a pooled connection idle this long is pinged before use
RECYCLE_SECONDS = 3600  # and none is kept longer than this


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Have Store.tx run `action` once this transaction has committed and its connection is back
    in the pool (never if it rolls back). A failing action is logged: the commit stands."""
    session.info.setdefault(_AFTER, []).append(action)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return _postgres_engine(url)


def _postgres_engine(url: str) -> Engine:
    """Replicas outlive database restarts and idle-connection reapers, so a pooled connection is
    checked before use; but not with pool_pre_ping's SELECT 1 on every checkout, which was one of
    the five round trips of each `/ready runs`. A server that ends a connection (restart,
    pg_terminate_backend, idle_session_timeout) sends its FATAL and closes the socket, so a
    connection that sat in the pool with anything to read is dead and replaced at no round trip;
    one idle long enough for a firewall to have dropped it silently is still pinged."""
    engine = create_engine(url, pool_size=5, max_overflow=5, pool_recycle=RECYCLE_SECONDS)

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):  # noqa: ANN001 - DBAPI objects
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):  # noqa: ANN001
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:
            return  # just connected
        if _ended_by_server(dbapi_conn) or (time.monotonic() - idle_since > IDLE_PING_SECONDS
                                            and not _answers(engine, dbapi_conn)):
            # The pool opens a new connection and checks that one out instead
            # (https://docs.sqlalchemy.org/en/20/core/pooling.html#custom-legacy-pessimistic-ping).
            raise DisconnectionError("pooled connection was closed by the server")

    return engine


def _ended_by_server(dbapi_conn) -> bool:  # noqa: ANN001 - a psycopg Connection
    """An idle connection has nothing to read unless the server ended it (or it is broken)."""
    if dbapi_conn.closed or dbapi_conn.broken:
        return True
    poller = select.poll()
    poller.register(dbapi_conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _answers(engine: Engine, dbapi_conn) -> bool:  # noqa: ANN001
    try:
        return engine.dialect.do_ping(dbapi_conn)
    except engine.dialect.loaded_dbapi.Error:
        return False


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - DBAPI objects
        # Take transaction control away from the sqlite3 module so that our
        # BEGIN IMMEDIATE below is the only BEGIN issued.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if ":memory:" not in url and url != "sqlite://":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _forget_pending(session: Session) -> None:
    session.info.pop(_TOPICS, None)
    session.info.pop(_AFTER, None)


class Store:
    """The database: an engine plus a transaction helper. One per process."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads on PostgreSQL run without BEGIN and COMMIT (two round trips of a one-query
        # command): under READ COMMITTED each statement takes its own snapshot inside a
        # transaction too, so a read sees the same rows either way. SQLite keeps its transaction:
        # its "begin" hook issues the BEGIN IMMEDIATE that autocommit would leave open.
        self._reads = self._sessions if not self.is_postgres else sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
        self._callbacks: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()
        event.listen(self._sessions, "after_commit", self._committed)
        event.listen(self._sessions, "after_rollback", _forget_pending)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self._sessions() as session:
            with session.begin():
                yield session
            for action in session.info.pop(_AFTER, ()):
                try:
                    action()
                except Exception:  # committed already: a follow-up's failure must not undo that
                    log.exception("after-commit action failed")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for code that only reads (a listing): on PostgreSQL in autocommit, so
        nothing it did would be undone on error; never write through it."""
        with self._reads() as session, session.begin():
            yield session

    def on_commit(self, topic: str, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.setdefault(topic, []).append(callback)

    def off_commit(self, topic: str, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks.get(topic, []):
                self._callbacks[topic].remove(callback)

    def _committed(self, session: Session) -> None:
        for topic in session.info.pop(_TOPICS, ()):
            with self._lock:
                callbacks = list(self._callbacks.get(topic, ()))
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # a waiter's failure must not turn a commit into an error
                    log.exception("after-commit callback for %s failed", topic)

    def dispose(self) -> None:
        self.engine.dispose()
