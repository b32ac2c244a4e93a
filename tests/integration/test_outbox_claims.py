"""Claims are short and renewed: a dead sender's rows are taken over within about 15 seconds, a
live slow sender keeps its own, and nothing is posted twice either way. Delivery is batched, and
one busy channel's 429 holds back only that channel."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from bot.notify import outbox
from bot.notify.dispatch import SENDERS, Dispatcher
from bot.store.models import Outbox
from tests.integration.test_outbox import die_after_posting, dispatcher, queue, run_payload


def test_a_dead_senders_rows_are_retaken_within_15_seconds(services, fake_slack, clock):
    """Issue 12: after a SIGKILL, notifications waited 91-126 s for the 120 s claim to run out."""
    queue(services, "k1")
    with services.store.tx() as s:
        assert len(outbox.claim(s, clock(), 10)) == 1  # claimed, then the process was killed
    clock.advance(seconds=10)
    assert dispatcher(services).drain() == 0  # it might still be alive
    clock.advance(seconds=6)
    assert dispatcher(services).drain() == 1
    assert len(fake_slack.messages("C1")) == 1


def test_a_sender_killed_after_posting_is_not_posted_twice_by_the_next_one(services, fake_slack, clock,
                                                                            monkeypatch):
    queue(services, "k1")
    die_after_posting(services, monkeypatch)
    clock.advance(seconds=16)
    assert dispatcher(services).drain() == 1  # recovered from the channel's history, not posted again
    assert len(fake_slack.messages("C1")) == 1


def test_a_live_slow_sender_keeps_its_rows_while_its_heartbeat_renews_them(services, fake_slack, clock,
                                                                           monkeypatch):
    """Slack takes a minute to answer the first post; the claim is 15 s, but the sender's heartbeat
    renews it, so a second sender polling all along takes nothing and posts nothing twice."""
    for n in range(3):
        queue(services, f"k{n}", payload=run_payload(f"run-{n}"))
    slow = Dispatcher(services.store, services.clients, clock, renew_every=0.01)
    other = dispatcher(services)
    beats = threading.Condition()
    count = [0]
    renew = slow.renew

    def counted_renew() -> None:
        renew()
        with beats:
            count[0] += 1
            beats.notify_all()

    def two_more_beats() -> bool:  # the first may have read the time before it moved
        with beats:
            seen = count[0]
            return beats.wait_for(lambda: count[0] >= seen + 2, timeout=10)

    monkeypatch.setattr(slow, "renew", counted_renew)
    send = slow._send
    others_sent = []

    def slow_send(row):  # noqa: ANN001, ANN202
        if row.dedupe_key == "k0":
            for _ in range(4):  # a minute passes before Slack has the message...
                clock.advance(seconds=15)
                assert two_more_beats()  # ...and the heartbeat beats meanwhile
                others_sent.append(other.drain())
        return send(row)

    monkeypatch.setattr(slow, "_send", slow_send)
    assert slow.run_once() == 3
    assert others_sent == [0, 0, 0, 0]
    names = sorted(m["text"] for m in fake_slack.messages("C1"))
    assert len(names) == 3 and len(set(names)) == 3


def test_a_batch_of_rows_costs_a_few_transactions_not_several_per_row(services, fake_slack):
    for n in range(40):
        queue(services, f"k{n}", payload=run_payload(f"run-{n}"))
    commits = []
    listener = lambda _conn: commits.append(1)  # noqa: E731
    event.listen(services.store.engine, "commit", listener)
    try:
        assert dispatcher(services).drain() == 40
    finally:
        event.remove(services.store.engine, "commit", listener)
    assert len(commits) <= 4  # claim, mark sent, and the empty claim that ends the drain
    with services.store.tx() as s:
        rows = list(s.scalars(select(Outbox)))
    assert {r.status for r in rows} == {"sent"} and all(r.ts for r in rows)


def test_a_reply_queued_after_its_parent_goes_out_in_the_same_batch(services, fake_slack):
    queue(services, "parent")
    queue(services, "child", parent_key="parent")
    assert dispatcher(services).drain() == 2  # no wait for the parent's mark, no second round
    messages = fake_slack.messages("C1")
    parent = next(m for m in messages if not m.get("thread_ts"))
    child = next(m for m in messages if m.get("thread_ts"))
    assert child["thread_ts"] == parent["ts"]


def test_one_channels_429_does_not_hold_back_other_channels(services, fake_slack, clock):
    """chat.postMessage is limited per channel: the rows of C1 wait out Retry-After, C2's go now."""
    fake_slack.add_channel("C2", "other")
    queue(services, "c1-a", payload=run_payload("a"))
    queue(services, "c1-b", payload=run_payload("b"))
    queue(services, "c2-a", channel="C2", payload=run_payload("c"))
    fake_slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=30)
    assert dispatcher(services).drain() == 1
    assert [m["text"] for m in fake_slack.messages("C2")] and not fake_slack.messages("C1")
    assert len(fake_slack.calls("chat.postMessage")) == 2  # C1's second row did not ask again
    clock.advance(seconds=31)
    assert dispatcher(services).drain() == 2
    assert len(fake_slack.messages("C1")) == 2


def _channels(fake_slack, count: int) -> list[str]:  # noqa: ANN001
    names = [f"CR{n:02d}" for n in range(count)]
    for name in names:
        fake_slack.add_channel(name, name.lower())
    return names


def _texts(fake_slack, channel: str) -> list[str]:  # noqa: ANN001
    return [m["text"] for m in fake_slack.messages(channel)]


def test_the_channel_queued_last_gets_its_first_post_in_the_first_batch(services, fake_slack):
    """Issue 13: a batch took the 50 oldest rows whatever their channel, so with nine busy channels
    queued first, the channel queued last waited for two batches of theirs before its first post."""
    busy = _channels(fake_slack, 9)
    for channel in busy:
        for n in range(10):
            queue(services, f"{channel}-{n}", channel=channel, payload=run_payload(f"{channel}-run-{n}"))
    last = _channels(fake_slack, 10)[-1]
    queue(services, "last", channel=last, payload=run_payload("last-run"))
    sender = dispatcher(services)
    assert sender.run_once(limit=50) == 50  # one batch
    assert len(_texts(fake_slack, last)) == 1
    assert all(len(_texts(fake_slack, channel)) >= 5 for channel in busy)  # and the others share the rest
    assert sender.drain() == 41
    for channel in busy:  # each channel's messages in the order they were queued
        assert _order(fake_slack, channel) == list(range(10))


def _order(fake_slack, channel: str) -> list[int]:  # noqa: ANN001
    """Which of the channel's runs (named `<channel>-run-<n>`) each message names, as posted."""
    return [int(text.split(f"*{channel}-run-")[1].split("*")[0]) for text in _texts(fake_slack, channel)]


def test_a_channel_waiting_out_a_429_waits_for_every_sender(services, fake_slack, clock):
    """A replica that never heard the 429 must not post the channel's newer message first."""
    channel = _channels(fake_slack, 1)[0]
    queue(services, "a0", channel=channel, payload=run_payload(f"{channel}-run-0"))
    fake_slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=30)
    assert dispatcher(services).drain() == 0
    queue(services, "a1", channel=channel, payload=run_payload(f"{channel}-run-1"))
    other = dispatcher(services)
    assert other.drain() == 0
    assert len(fake_slack.calls("chat.postMessage")) == 1
    clock.advance(seconds=31)
    assert other.drain() == 2
    assert _order(fake_slack, channel) == [0, 1]


def test_senders_at_once_over_many_channels_post_each_row_once(services, fake_slack):
    """Three replicas, each sending to four channels at once as `readybot serve` does."""
    channels = _channels(fake_slack, 12)
    for n in range(5):
        for channel in channels:
            queue(services, f"{channel}-{n}", channel=channel, payload=run_payload(f"{channel}-run-{n}"))
    total = len(channels) * 5

    def work(sender: Dispatcher) -> None:
        for _ in range(400):  # bounded: each round is one claim
            if len(fake_slack.calls("chat.postMessage")) >= total:
                return
            sender.run_once(limit=7)

    senders = [Dispatcher(services.store, services.clients, services.clock, senders=SENDERS) for _ in range(3)]
    threads = [threading.Thread(target=work, args=(sender,)) for sender in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_slack.calls("chat.postMessage")) == total
    assert all(sorted(_order(fake_slack, channel)) == list(range(5)) for channel in channels)
    with services.store.tx() as s:
        assert {row.status for row in s.scalars(select(Outbox))} == {"sent"}


def test_a_row_another_sender_is_claiming_holds_back_its_channels_later_rows(services, fake_slack, clock):
    """PostgreSQL: a row locked by another sender's claim in progress is skipped (SKIP LOCKED), and
    so are the rows queued after it in its channel, or they would be posted before it."""
    if not services.store.is_postgres:
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises claims")
    channel, other_channel = _channels(fake_slack, 2)
    for n in range(3):
        queue(services, f"a{n}", channel=channel, payload=run_payload(f"{channel}-run-{n}"))
    queue(services, "b0", channel=other_channel, payload=run_payload(f"{other_channel}-run-0"))
    with services.store.tx() as other:  # another replica, half-way through its claim of a0
        other.execute(select(Outbox.id).where(Outbox.dedupe_key == "a0").with_for_update())
        with services.store.tx() as s:
            claimed = [row.dedupe_key for row in outbox.claim(s, clock(), 10)]
    assert claimed == ["b0"]
