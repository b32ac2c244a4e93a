"""The outbox delivers each logical notification once, honours Slack's 429 Retry-After,
and gives up on errors no retry can fix."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from bot.notify import outbox
from bot.notify.dispatch import Dispatcher
from bot.store.models import Outbox


def queue(services, key: str, channel: str = "C1", **kw) -> bool:
    with services.store.tx() as s:
        return outbox.enqueue(
            s, key=key, team_id="T0SANDBOX", channel_id=channel, template="run_event",
            payload=kw.pop("payload", run_payload()), now=services.clock(), **kw,
        )


def run_payload(name: str = "resnet") -> dict:
    run = {"id": 1, "ref": "abc", "name": name, "experiment": None, "url": None, "owner": None, "state": "finished",
           "step": 10, "total_steps": 10, "metrics": {"loss": 0.1}, "duration_s": 60.0, "heartbeat_at": None}
    return {"run": run, "connection": "mlflow", "event": "finished"}


def dispatcher(services) -> Dispatcher:
    return Dispatcher(services.store, services.clients, services.clock)


def test_same_key_is_queued_once(services):
    assert queue(services, "k1") is True
    assert queue(services, "k1") is False
    with services.store.tx() as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 1


def test_delivered_once_and_ts_stored(services, fake_slack):
    queue(services, "k1")
    assert dispatcher(services).drain() == 1
    assert dispatcher(services).drain() == 0
    assert len(fake_slack.messages("C1")) == 1
    with services.store.tx() as s:
        row = s.scalar(select(Outbox))
        assert row.status == "sent" and row.ts


def test_concurrent_senders_post_each_row_once(services, fake_slack):
    for n in range(30):
        queue(services, f"k{n}", payload=run_payload(f"run-{n}"))
    threads = [threading.Thread(target=dispatcher(services).drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = sorted(m["text"] for m in fake_slack.messages("C1"))
    assert len(names) == 30 and len(set(names)) == 30


def test_rate_limited_row_waits_for_retry_after(services, fake_slack, clock):
    queue(services, "k1")
    fake_slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=30)
    assert dispatcher(services).drain() == 0
    clock.advance(seconds=10)
    assert dispatcher(services).drain() == 0  # Slack asked for 30 s
    clock.advance(seconds=25)
    assert dispatcher(services).drain() == 1
    assert len(fake_slack.messages("C1")) == 1


def test_permanent_error_is_not_retried(services, fake_slack, clock):
    queue(services, "k1", channel="C404")
    fake_slack.fail_next("chat.postMessage", "channel_not_found")
    dispatcher(services).drain()
    clock.advance(hours=1)
    dispatcher(services).drain()
    assert len(fake_slack.calls("chat.postMessage")) == 1
    with services.store.tx() as s:
        row = s.scalar(select(Outbox))
        assert row.status == "failed" and row.error == "channel_not_found"


def test_transient_error_is_retried_with_backoff(services, fake_slack, clock):
    queue(services, "k1")
    fake_slack.fail_next("chat.postMessage", "internal_error")
    assert dispatcher(services).drain() == 0
    clock.advance(minutes=1)
    assert dispatcher(services).drain() == 1


def test_reply_waits_for_its_parent_and_lands_in_its_thread(services, fake_slack, clock):
    queue(services, "child", parent_key="parent")
    queue(services, "parent")
    d = dispatcher(services)
    d.run_once()
    clock.advance(seconds=10)
    d.drain()
    messages = fake_slack.messages("C1")
    parent = next(m for m in messages if not m.get("thread_ts"))
    child = next(m for m in messages if m.get("thread_ts"))
    assert child["thread_ts"] == parent["ts"]


def test_a_dead_sender_gives_its_rows_back(services, fake_slack, clock):
    queue(services, "k1")
    with services.store.tx() as s:
        claimed = outbox.claim(s, clock(), 10)  # claimed, then the process died
    assert len(claimed) == 1
    assert dispatcher(services).drain() == 0
    clock.advance(seconds=outbox.CLAIM_SECONDS + 1)
    assert dispatcher(services).drain() == 1


def test_long_message_is_split_into_thread_replies(services, fake_slack):
    metrics = {f"metric_{i:03d}": float(i) for i in range(20)}
    payload = run_payload()
    payload["run"]["metrics"] = metrics
    queue(services, "k1", payload=payload)
    assert dispatcher(services).drain() == 1
    assert all(len(m.get("blocks") or []) <= 50 for m in fake_slack.messages("C1"))




class Died(BaseException):
    """The sender process dying between Slack's answer and the database commit."""


def die_after_posting(services, monkeypatch) -> None:  # noqa: ANN001
    """A sender drains the outbox and dies after Slack answered, before it marks the rows sent."""
    dying = dispatcher(services)

    def die(*_args):  # noqa: ANN002
        raise Died()

    monkeypatch.setattr(dying, "_mark_sent", die)
    try:
        dying.drain()
    except Died:
        pass


def test_sender_dying_after_posting_does_not_post_twice(services, fake_slack, clock, monkeypatch):
    queue(services, "k1")
    die_after_posting(services, monkeypatch)
    assert len(fake_slack.messages("C1")) == 1
    clock.advance(seconds=outbox.CLAIM_SECONDS + 1)  # its claim runs out; another sender takes over
    assert dispatcher(services).drain() == 1
    assert len(fake_slack.messages("C1")) == 1
    with services.store.tx() as s:
        row = s.scalar(select(Outbox))
        assert row.status == "sent" and row.ts == fake_slack.messages("C1")[0]["ts"]


def test_without_history_access_a_retry_posts_again_rather_than_lose(services, fake_slack, clock, monkeypatch):
    queue(services, "k1")
    die_after_posting(services, monkeypatch)
    fake_slack.fail_next("conversations.history", "missing_scope")
    clock.advance(seconds=outbox.CLAIM_SECONDS + 1)
    assert dispatcher(services).drain() == 1
    assert len(fake_slack.messages("C1")) == 2  # at-least-once: duplicated, never lost


def test_one_429_holds_back_the_channel_until_retry_after_then_paces_it(services, fake_slack, clock):
    for n in range(30):
        queue(services, f"k{n}", payload=run_payload(f"run-{n}"))
    fake_slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=30)
    sender = dispatcher(services)  # the scheduler keeps one
    assert sender.drain() == 0
    clock.advance(seconds=10)
    assert sender.drain() == 0
    assert len(fake_slack.calls("chat.postMessage")) == 1  # no request per row to hear "429" again
    clock.advance(seconds=21)
    sent = sender.drain()
    for _ in range(40):  # then about one a second, Slack's pace for a channel, instead of a burst
        clock.advance(seconds=1.1)
        sent += sender.drain()
    assert sent == 30
    assert len(fake_slack.calls("chat.postMessage")) == 31
    with services.store.tx() as s:
        assert {row.attempts for row in s.scalars(select(Outbox))} == {1}


def _outage(services, clock, rounds: int) -> None:
    """Slack unreachable for `rounds` retry rounds, each a quarter of an hour apart (over the
    attempt budget in total); the row must still be waiting, not failed."""
    for _ in range(rounds):
        dispatcher(services).drain()
        clock.advance(minutes=16)
    with services.store.tx() as s:
        assert s.scalar(select(Outbox)).status == "pending"


def test_slack_answering_5xx_for_hours_loses_nothing(services, fake_slack, clock):
    queue(services, "k1")
    fake_slack.fail_next("chat.postMessage", "service_unavailable", status=503, count=12)
    _outage(services, clock, 12)
    assert dispatcher(services).drain() == 1
    assert len(fake_slack.messages("C1")) == 1


def test_slack_unreachable_for_hours_loses_nothing(services, fake_slack, clock):
    import socket
    from dataclasses import replace

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    settings = services.clients.settings
    services.clients.settings = replace(settings, slack_api_url=f"http://127.0.0.1:{port}/api/")
    queue(services, "k1")
    _outage(services, clock, 10)
    services.clients.settings = settings  # Slack is back
    assert dispatcher(services).drain() == 1
    assert len(fake_slack.messages("C1")) == 1


def test_a_row_slack_keeps_failing_for_a_day_is_given_up(services, fake_slack, clock):
    queue(services, "k1")
    fake_slack.fail_next("chat.postMessage", "internal_error", status=500, count=200)
    for _ in range(100):
        dispatcher(services).drain()
        clock.advance(minutes=16)
    with services.store.tx() as s:
        assert s.scalar(select(Outbox)).status == "failed"


def test_rows_whose_claim_ran_out_behind_a_slow_slack_are_left_to_their_new_sender(services, fake_slack, clock,
                                                                                    monkeypatch):
    for n in range(3):
        queue(services, f"k{n}", payload=run_payload(f"run-{n}"))
    slow = dispatcher(services)
    send = slow._send

    def slow_send(row):
        result = send(row)
        if row.dedupe_key == "k0":  # Slack took so long that the other rows' claims ran out...
            clock.advance(seconds=outbox.CLAIM_SECONDS + 1)
            dispatcher(services).drain()  # ...and another sender took them over
        return result

    monkeypatch.setattr(slow, "_send", slow_send)
    assert slow.run_once() == 1
    names = sorted(m["text"] for m in fake_slack.messages("C1"))
    assert len(names) == 3 and len(set(names)) == 3


def test_sender_dying_after_uploading_a_chart_does_not_upload_it_twice(services, fake_slack, clock, monkeypatch):
    """Found by SIGKILLing `readybot serve` right after files.completeUploadExternal: the chart
    was shared again in the alert's thread by the sender that took the row over."""
    queue(services, "alert")
    assert dispatcher(services).drain() == 1
    chart = {"title": "resnet · val_acc", "metric": "val_acc", "run": "resnet", "threshold": 0.9, "op": ">=",
             "crossing": [2, 0.91], "points": [[1, 0.5], [2, 0.91]]}
    with services.store.tx() as s:
        outbox.enqueue(s, key="alert-chart", team_id="T0SANDBOX", channel_id="C1", template="target_chart",
                       payload=chart, now=clock(), op="upload", parent_key="alert")
    die_after_posting(services, monkeypatch)
    assert len(fake_slack.files()) == 1
    clock.advance(seconds=outbox.CLAIM_SECONDS + 1)  # its claim runs out; another sender takes over
    assert dispatcher(services).drain() == 1
    shared = [m for m in fake_slack.messages("C1") if m.get("files")]
    assert len(shared) == 1 and len(fake_slack.files()) == 1


def test_many_rows_queued_at_once_keep_their_order_and_content_and_each_key_is_queued_once(store):
    from datetime import UTC, datetime

    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    with store.tx() as s:
        outbox.enqueue(s, key="k-3", team_id="T1", channel_id="C1", template="run_event", payload={}, now=now)
    rows = [outbox.Queued(key=f"k-{i}", team_id="T1", channel_id=f"C{i % 3}", template="run_event",
                          payload={"run": {"name": f"résumé-{i}", "metrics": {"loss": 0.5 / (i + 1)}}, "n": i},
                          op="upload" if i % 2 else "post", parent_key=f"k-{i - 1}" if i % 2 else None)
            for i in range(60)]
    with store.tx() as s:
        added = outbox.enqueue_many(s, rows + rows[:2], now)  # a key twice in one call, and one queued before
    assert added == {f"k-{i}" for i in range(60)} - {"k-3"}
    with store.tx() as s:
        stored = s.scalars(select(Outbox).where(Outbox.dedupe_key != "k-3").order_by(Outbox.id)).all()
        assert [m.dedupe_key for m in stored] == [r.key for r in rows if r.key != "k-3"]  # posted in this order
        for m, r in zip(stored, [r for r in rows if r.key != "k-3"], strict=True):
            assert (m.payload, m.op, m.parent_key, m.channel_id) == (r.payload, r.op, r.parent_key, r.channel_id)
            assert (m.status, m.attempts, m.not_before, m.created_at) == ("pending", 0, now, now)
