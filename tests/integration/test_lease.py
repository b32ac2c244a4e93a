"""The poll lease: one holder at a time, taken over when it expires or is released."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs import lease
from bot.server import Server

TTL = timedelta(minutes=3)


def test_one_holder_at_a_time_until_expiry(store, clock):
    assert lease.acquire(store, "poll", "a", clock(), TTL)
    assert lease.acquire(store, "poll", "a", clock(), TTL)  # renewing is fine
    assert not lease.acquire(store, "poll", "b", clock(), TTL)
    clock.advance(minutes=4)
    assert lease.acquire(store, "poll", "b", clock(), TTL)
    assert not lease.acquire(store, "poll", "a", clock(), TTL)


def test_released_lease_is_taken_at_once(store, clock):
    assert lease.acquire(store, "poll", "a", clock(), TTL)
    lease.release(store, "poll", "a")
    assert lease.acquire(store, "poll", "b", clock(), TTL)


def test_stopping_the_server_gives_back_every_lease_it_holds(services, clock):
    """A replica that stops hands its leases on at once, not after their TTL: the calendar sync
    it was leading is taken by the next replica on its very next tick."""
    server = Server(services, port=0, host="127.0.0.1", scheduler=True).start()
    assert lease.acquire(services.store, "calendar-sync", lease.HOLDER, clock(), TTL)
    assert lease.acquire(services.store, "other-job", "another-replica:1", clock(), TTL)
    server.stop()
    assert lease.acquire(services.store, "calendar-sync", "next-replica:2", clock(), TTL)
    assert not lease.acquire(services.store, "other-job", "next-replica:2", clock(), TTL)  # not ours to give
