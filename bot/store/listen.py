"""PostgreSQL LISTEN on a thread: another replica's committed NOTIFY reaches this process at once.

NOTIFY is sent by `notify` in a statement of its own once the writing transaction has committed
(https://www.postgresql.org/docs/current/sql-notify.html). The listener holds one connection of
its own in autocommit mode (LISTEN needs a session, so not through a transaction pooler) and
reads with psycopg's `Connection.notifies()` (https://www.psycopg.org/psycopg3/docs/advanced/async.html#asynchronous-notifications).
A lost connection is opened again after a pause; notifications sent meanwhile are lost, so each
(re)connect calls `heard` once, and callers keep a periodic check as the safety net.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine

log = logging.getLogger(__name__)
RECONNECT_SECONDS = (0.5, 1, 2, 5, 10)  # pauses before each reconnect, the last one repeated
READ_SECONDS = 1.0  # how often the thread looks up from the socket to see whether it should stop


def conninfo(url: URL) -> str:
    """libpq's URI for an SQLAlchemy URL (`postgresql+psycopg://...` -> `postgresql://...`)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def notify(engine: Engine, channel: str) -> None:
    """Wake the listeners of `channel`, in one autocommit statement. Not inside the transaction
    whose rows it announces: PostgreSQL serialises the commits of transactions that sent NOTIFY
    (the "database 0" lock on the notification queue, held from pre-commit through the WAL
    flush: https://github.com/postgres/postgres/blob/REL_15_STABLE/src/backend/commands/async.c),
    which would make every replica's writes wait on each other. synchronous_commit is off for
    this one statement: a notification does not survive a server crash anyway, so waiting for
    its WAL flush (under that lock) buys nothing."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT set_config('synchronous_commit', 'off', true), pg_notify(:channel, '')"),
                     {"channel": channel})


class Coalesced:
    """`send` called for each call, coalesced across threads: a call made while another thread's
    send is under way returns at once, and that thread sends once more when it is done, for all
    such calls together. Every call is still followed by a send that starts after it, so a
    listener misses no commit; but a poll's threads committing together send one NOTIFY or two,
    not one each (each is a round trip on a pooled connection: an eighth of the statements
    of recording a small answer)."""

    def __init__(self, send: Callable[[], None]):
        self._send = send
        self._lock = threading.Lock()
        self._busy = False
        self._again = False

    def __call__(self) -> None:
        with self._lock:
            if self._busy:
                self._again = True
                return
            self._busy = True
        try:
            while True:
                self._send()
                with self._lock:
                    if not self._again:
                        self._busy = False
                        return
                    self._again = False
        except BaseException:
            with self._lock:  # the periodic check is the safety net for what this one carried
                self._busy = self._again = False
            raise


class Listener:
    """Calls `heard()` for each notification on `channel`, until `stop()`."""

    def __init__(self, url: URL, channel: str, heard: Callable[[], None]):
        self._conninfo = conninfo(url)
        self._channel = channel
        self._heard = heard
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"listen-{channel}", daemon=True)
        self.connected = threading.Event()  # set while LISTEN is in effect (tests wait on it)
        self.backend_pid: int | None = None  # the server process of the listening session

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self, wait: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(wait)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except (psycopg.Error, OSError) as exc:
                # The class name only: a connection error's text may carry the connection string.
                log.warning("LISTEN %s lost (%s); reconnecting", self._channel, type(exc).__name__)
            self.connected.clear()
            pause = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
            failures += 1
            self._stop.wait(pause)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self.backend_pid = conn.info.backend_pid
            self.connected.set()
            self._heard()  # whatever was committed while nobody listened
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=READ_SECONDS):
                    self._heard()
