"""Repeated Slack deliveries: a request id is new once on every replica, and the hourly cleanup
forgets ids after a day (far beyond Slack's retries) so the table does not grow forever."""

from __future__ import annotations

from types import SimpleNamespace

from bot.store.dedupe import first_time, forget_old
from tests.conftest import Clock


def test_a_request_is_new_once_and_forgotten_after_a_day(store):
    clock = Clock()
    assert first_time(store, "event:Ev1", clock())
    assert not first_time(store, "event:Ev1", clock.advance(minutes=5))  # Slack's retry

    cleanup = SimpleNamespace(store=store, clock=clock)
    forget_old(cleanup)
    assert not first_time(store, "event:Ev1", clock())  # a few minutes old: still remembered

    clock.advance(days=1, minutes=1)
    forget_old(cleanup)
    assert first_time(store, "event:Ev1", clock())
