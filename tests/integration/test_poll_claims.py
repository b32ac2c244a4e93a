"""Per-connection poll claims (bot/jobs/claims.py): replicas share the polling, one holder per
connection at a time, each connection due once per interval, backing off after errors."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs import claims
from bot.store.models import Connection
from tests.conftest import T0

EVERY = timedelta(minutes=1)
TTL = timedelta(minutes=3)


def connections(store, n: int) -> list[int]:  # noqa: ANN001
    with store.tx() as s:
        rows = [Connection(team_id="T1", name=f"c{i}", kind="mlflow", url=f"http://c{i}", options={}, created_at=T0)
                for i in range(n)]
        s.add_all(rows)
        s.flush()
        ids = [c.id for c in rows]
        claims.ensure(s, ids, T0)
    return ids


def give_back(store, claimed, now, ok=True) -> None:  # noqa: ANN001
    with store.tx() as s:
        claims.release(s, claimed[0], claimed[1], now, now, EVERY, ok=ok)


def test_two_replicas_claim_different_connections_and_none_twice(store, clock):
    ids = connections(store, 2)
    a = claims.claim(store, ids, "replica-a", clock(), TTL)
    b = claims.claim(store, ids, "replica-b", clock(), TTL)
    assert a is not None and b is not None and {a[0], b[0]} == set(ids)
    assert claims.claim(store, ids, "replica-c", clock(), TTL) is None


def test_a_polled_connection_is_due_again_one_interval_later(store, clock):
    [cid] = connections(store, 1)
    give_back(store, claims.claim(store, [cid], "a", clock(), TTL), clock())
    clock.advance(seconds=30)
    assert claims.claim(store, [cid], "b", clock(), TTL) is None
    assert claims.claim(store, [cid], "b", clock(), TTL, due_only=False) is not None  # a manual cycle


def test_a_replica_that_died_mid_poll_gives_its_connection_back_when_the_claim_runs_out(store, clock):
    [cid] = connections(store, 1)
    dead = claims.claim(store, [cid], "dead", clock(), TTL)
    clock.advance(minutes=2)
    assert claims.claim(store, [cid], "b", clock(), TTL) is None
    clock.advance(minutes=2)
    taken = claims.claim(store, [cid], "b", clock(), TTL)
    assert taken is not None
    give_back(store, dead, clock())  # the dead one's late answer does not free the new claim
    assert claims.claim(store, [cid], "c", clock(), TTL, due_only=False) is None


def test_errors_back_off_exponentially_capped_and_a_success_resets(store, clock):
    [cid] = connections(store, 1)
    waits = []
    for _ in range(7):
        claimed = claims.claim(store, [cid], "a", clock(), TTL, due_only=False)
        give_back(store, claimed, clock(), ok=False)
        with store.tx() as s:
            waits.append(s.get(claims.ConnectionPoll, cid).next_poll_at - clock())
    assert [w.total_seconds() / 60 for w in waits] == [1, 2, 4, 8, 16, 30, 30]
    give_back(store, claims.claim(store, [cid], "a", clock(), TTL, due_only=False), clock(), ok=True)
    with store.tx() as s:
        row = s.get(claims.ConnectionPoll, cid)
        assert row.errors == 0 and row.next_poll_at == clock() + EVERY and row.polled_at == clock()
