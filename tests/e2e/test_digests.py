"""Channel digests end to end: signed /ready digest commands, the digest job called directly at
chosen clock times, the outbox and the fake Slack (which rejects invalid Block Kit)."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.jobs.digests import digest_tick
from bot.sandbox import block_kit_errors
from bot.sandbox.world import TEAM_ID
from bot.store.models import Connection, Outbox, Review, ReviewRun, Run, Target, Watch, WatchRun
from tests.concurrency import run_together
from tests.slack_text import shown

CH = "C1"
STATES = ("finished", "failed", "stalled", "running", "killed", "queued")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def add_runs(bot, count: int, name: str = "run", state: str | None = None) -> list[int]:
    """Tracked runs in the channel, in every state, with names long enough to stress the limits."""
    now = bot.clock.now
    ids = []
    with bot.services.store.tx() as s:
        conn = s.scalar(select(Connection).where(Connection.name == "push"))
        if conn is None:
            conn = Connection(team_id=TEAM_ID, name="push", kind="push", created_at=now)
            s.add(conn)
            s.flush()
        watch = Watch(team_id=TEAM_ID, channel_id=CH, connection_id=conn.id, ref=f"{name}-exp",
                      is_experiment=True, created_at=now)
        s.add(watch)
        s.flush()
        for i in range(count):
            st = state or STATES[i % len(STATES)]
            run = Run(
                connection_id=conn.id, ref=f"{name}-{i}", name=f"{name}-{i:03d}-<ablation & sweep>-" + "x" * 120,
                state=st, step=i * 10, total_steps=10_000, owner=f"user{i % 7}@lab.org",
                url=f"https://tracker.example/runs/{name}-{i}?" + "q" * 200,
                metrics={"val_acc": 0.5 + i / 2000, "loss": 1.0 - i / 1000, "lr": 0.001},
                eta=now + timedelta(hours=i % 48 + 1) if st == "running" else None,
                ended_at=now - timedelta(hours=1) if st in ("finished", "failed", "killed") else None,
                progress_at=now - timedelta(hours=3), created_at=now, updated_at=now,
            )
            s.add(run)
            s.flush()
            s.add(WatchRun(watch_id=watch.id, run_id=run.id))
            ids.append(run.id)
    return ids


def posted(bot) -> list[dict]:
    return bot.fake.messages(CH)


def digests(bot) -> list[dict]:
    return [m for m in posted(bot) if "thread_ts" not in m and "Run digest" in shown(m)]


def tick(bot, when: datetime) -> None:
    bot.clock.now = when
    digest_tick(bot.services)
    bot.deliver()


def test_a_digest_of_500_runs_posts_without_any_block_kit_violation(bot):
    ids = add_runs(bot, 500)
    now = bot.clock.now
    with bot.services.store.tx() as s:
        for i in range(30):
            s.add(Target(team_id=TEAM_ID, channel_id=CH, metric="val_acc", op=">=", threshold=0.6 + i / 100,
                         created_at=now))
        for i in range(15):
            review = Review(team_id=TEAM_ID, channel_id=CH, title=f"Review {i} <of the sweep>",
                            at=now + timedelta(days=1, hours=i), original_at=now, created_at=now)
            s.add(review)
            s.flush()
            s.add_all([ReviewRun(review_id=review.id, run_id=rid) for rid in ids[i * 6 : i * 6 + 3]])
    reply = bot.reply("digest now")
    assert "Digest on its way" in reply
    bot.deliver()
    messages = posted(bot)
    assert messages, "no digest posted"
    for message in messages:
        assert block_kit_errors(message.get("blocks") or []) == []
    with bot.services.store.tx() as s:
        assert set(s.scalars(select(Outbox.status))) == {"sent"}
    head = digests(bot)
    assert len(head) == 1
    whole = "\n".join(shown(m) for m in messages)
    assert "Finished (84)" in whole and "Failed (167)" in whole  # failed + killed
    assert "Stalled (83)" in whole and "In progress (166)" in whole  # running + queued
    assert "…and 126 more" in whole
    assert "`val_acc >= 0.6`: best 0.7495" in whole and "met" in whole
    assert "Review 0 <of the sweep>" in whole and "waiting on" in whole
    thread = [m for m in messages if m.get("thread_ts") == head[0]["ts"]]
    assert len(messages) == 1 + len(thread)  # any overflow went into the digest's thread


def test_scheduled_digest_once_per_day_with_changes_since_the_last(bot):
    bot.clock.now = at(23, 12, 0)  # Monday
    ids = add_runs(bot, 3, state="running")
    assert "17:00 on weekdays" in html.unescape(bot.reply("digest at 17:00"))
    tick(bot, at(23, 16, 59))
    assert digests(bot) == []
    tick(bot, at(23, 17, 0))
    tick(bot, at(23, 17, 1))
    assert len(digests(bot)) == 1
    assert "In progress (3)" in shown(digests(bot)[0]) and "Finished" not in shown(digests(bot)[0])

    with bot.services.store.tx() as s:
        s.execute(update(Run).where(Run.id == ids[0]).values(state="finished", ended_at=at(24, 9, 0)))
    tick(bot, at(24, 17, 0))
    second = shown(digests(bot)[1])
    assert "Finished (1)" in second and "run-000" in second and "In progress (2)" in second

    tick(bot, at(25, 17, 0))
    assert "Finished" not in shown(digests(bot)[2])  # already in yesterday's digest
    for day in (28, 29):  # the weekend
        tick(bot, at(day, 17, 0))
    assert len(digests(bot)) == 3


def test_replicas_post_one_digest(bot):
    add_runs(bot, 5)
    bot.reply("digest at 17:00")
    bot.clock.now = at(23, 17, 0)
    run_together(digest_tick, bot.services)
    bot.deliver()
    assert len(digests(bot)) == 1


def test_digest_off(bot):
    bot.reply("digest at 17:00")
    assert "off" in bot.reply("digest off")
    tick(bot, at(23, 17, 0))
    assert digests(bot) == []
    assert "no digest" in bot.reply("digest off")


@pytest.mark.parametrize("text", ["digest at 25:00", "digest", "standup at 9:30 on funday"])
def test_malformed_schedules_get_usage(bot, text):
    assert "Usage" in html.unescape(bot.reply(text))
