"""A committed notification wakes the dispatcher at once: in this process through the Store's
after-commit hook, across replicas through PostgreSQL LISTEN/NOTIFY. Only committed rows wake
it; the scheduler's two-second tick stays as the safety net."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, text

from bot.notify import outbox
from bot.notify.dispatch import Dispatcher, DispatchLoop
from bot.store.db import Store
from bot.store.listen import Listener
from bot.store.models import Outbox
from tests.integration.test_outbox import queue

# LISTEN/NOTIFY is PostgreSQL's; across processes SQLite has only the tick.
ONLY_POSTGRES = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


class Woken:
    """Counts wake-ups and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def after(self, seen: int, timeout: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count > seen, timeout)


def test_only_a_committed_notification_calls_the_waiters(services):
    woken = Woken()
    services.store.on_commit(outbox.TOPIC, woken)
    queue(services, "k1")
    assert woken.count == 1
    with services.store.tx() as s:  # a transaction that queues nothing
        s.execute(select(Outbox.id))
    assert woken.count == 1
    with pytest.raises(RuntimeError), services.store.tx() as s:
        outbox.enqueue(s, key="k2", team_id="T0SANDBOX", channel_id="C1", template="run_event",
                       payload={}, now=services.clock())
        raise RuntimeError("the state change failed")
    assert woken.count == 1  # rolled back: no row, no wake-up
    queue(services, "k1")  # already queued: nothing new
    assert woken.count == 1
    services.store.off_commit(outbox.TOPIC, woken)


def test_a_queued_notification_is_posted_without_waiting_for_a_tick(services, fake_slack):
    loop = DispatchLoop(Dispatcher(services.store, services.clients, services.clock)).start()
    try:
        queue(services, "k1")  # no tick runs here: only the commit can wake the loop
        assert fake_slack.wait_for(lambda: fake_slack.messages("C1"), timeout=10)
    finally:
        loop.stop()
    assert len(fake_slack.messages("C1")) == 1


@ONLY_POSTGRES
def test_another_replicas_commit_is_heard_through_notify(store):
    woken = Woken()
    listener = Listener(store.engine.url, outbox.CHANNEL, woken).start()
    other = Store(store.url)  # another replica's process
    try:
        assert listener.connected.wait(10)
        seen = woken.count
        with other.tx() as s:
            outbox.enqueue(s, key="k1", team_id="T0SANDBOX", channel_id="C1", template="run_event",
                           payload={}, now=datetime.now(UTC))
        assert woken.after(seen)
    finally:
        listener.stop()
        other.dispose()


@ONLY_POSTGRES
def test_a_replica_posts_what_another_queued_without_a_tick(services, fake_slack):
    loop = DispatchLoop(Dispatcher(services.store, services.clients, services.clock)).start()
    other = Store(services.store.url)
    try:
        assert loop.listener is not None and loop.listener.connected.wait(10)
        with other.tx() as s:
            outbox.enqueue(s, key="k1", team_id="T0SANDBOX", channel_id="C1", template="run_event",
                           payload=_payload(), now=services.clock())
        assert fake_slack.wait_for(lambda: fake_slack.messages("C1"), timeout=10)
    finally:
        loop.stop()
        other.dispose()


@ONLY_POSTGRES
def test_the_listener_comes_back_after_its_connection_is_killed(store):
    woken = Woken()
    listener = Listener(store.engine.url, outbox.CHANNEL, woken).start()
    try:
        assert listener.connected.wait(10)
        seen = woken.count
        with store.engine.begin() as conn:  # the server drops the listening session
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener.backend_pid})
        assert woken.after(seen)  # reconnected: it wakes once for what it may have missed
        assert listener.connected.wait(10)
        seen = woken.count
        with store.tx() as s:
            outbox.enqueue(s, key="k1", team_id="T0SANDBOX", channel_id="C1", template="run_event",
                           payload={}, now=datetime.now(UTC))
        assert woken.after(seen)
    finally:
        listener.stop()


class Statements:
    """What a Store sends its database, in order: each statement, and COMMIT / ROLLBACK."""

    def __init__(self, store: Store):
        self.sent: list[str] = []
        event.listen(store.engine, "before_cursor_execute", lambda *a: self.sent.append(a[2]))
        event.listen(store.engine, "commit", lambda conn: self.sent.append("COMMIT"))
        event.listen(store.engine, "rollback", lambda conn: self.sent.append("ROLLBACK"))

    def notifies(self) -> list[int]:
        return [i for i, stmt in enumerate(self.sent) if "pg_notify" in stmt]


@ONLY_POSTGRES
def test_the_wake_up_is_sent_after_the_commit_not_inside_it(store):
    # A transaction that sent NOTIFY takes PostgreSQL's database-wide notification lock at COMMIT,
    # through its WAL flush: every replica's commits that queued rows would wait on each other.
    sent = Statements(store)
    with store.tx() as s:
        _queue(s, "k1")
        _queue(s, "k2")
    [notify] = sent.notifies()  # one wake-up for the transaction, however many rows it queued
    insert = next(i for i, stmt in enumerate(sent.sent) if "INSERT INTO outbox" in stmt)
    assert insert < sent.sent.index("COMMIT") < notify


@ONLY_POSTGRES
def test_no_wake_up_without_a_committed_new_row(store):
    sent = Statements(store)
    with store.tx() as s:
        _queue(s, "k1")
    before = len(sent.notifies())
    with store.tx() as s:  # the key is queued already: nothing new
        _queue(s, "k1")
    with pytest.raises(RuntimeError), store.tx() as s:
        _queue(s, "k2")
        raise RuntimeError("the state change failed")
    assert len(sent.notifies()) == before
    with store.tx() as s:
        assert s.scalar(select(Outbox.id).where(Outbox.dedupe_key == "k2")) is None


@ONLY_POSTGRES
def test_a_failed_wake_up_leaves_the_row_queued_for_the_tick(store, monkeypatch):
    def unreachable(engine, channel):  # noqa: ANN001
        raise OSError("the server went away between the commit and the NOTIFY")

    monkeypatch.setattr(outbox, "notify", unreachable)
    with store.tx() as s:  # no error for the caller: what it wrote is committed
        _queue(s, "k1")
    with store.tx() as s:
        assert s.scalar(select(Outbox.status).where(Outbox.dedupe_key == "k1")) == "pending"


def _queue(s, key: str) -> bool:  # noqa: ANN001 - a Session
    return outbox.enqueue(s, key=key, team_id="T0SANDBOX", channel_id="C1", template="run_event", payload={},
                          now=datetime.now(UTC))


def _payload() -> dict:
    from tests.integration.test_outbox import run_payload

    return run_payload()
