"""The poll lease: one holder at a time, taken over when it expires or is released."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs import lease

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
