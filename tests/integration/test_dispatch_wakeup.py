"""A committed notification wakes the dispatcher at once: in this process through the Store's
after-commit hook, across replicas through PostgreSQL LISTEN/NOTIFY. Only committed rows wake
it; the scheduler's two-second tick stays as the safety net."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

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


def _payload() -> dict:
    from tests.integration.test_outbox import run_payload

    return run_payload()
