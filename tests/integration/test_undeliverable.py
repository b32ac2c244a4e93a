"""A channel the bot cannot post in: the people who set it up get one DM per channel per day."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.notify import undeliverable
from bot.store.models import Connection, Outbox, Review, Schedule, Target, Watch
from tests.integration.test_outbox import dispatcher, queue
from tests.slack_text import shown

TEAM = "T0SANDBOX"


def set_up(services, fake_slack, channel: str, **made_by: str) -> None:
    """Rows notifying `channel`, made by the given users: watch=, target=, review=, schedule=,
    cancelled= (a cancelled review), muted= (a muted target), and other= (a watch elsewhere)."""
    now = services.clock()
    for user in made_by.values():
        fake_slack.add_user(user, user.lower())
    with services.store.tx() as s:
        conn = Connection(team_id=TEAM, name=f"mlflow-{uuid.uuid4().hex[:8]}", kind="mlflow", url="http://x", created_at=now)
        s.add(conn)
        s.flush()

        def watch(user: str, where: str, ref: str) -> Watch:
            return Watch(team_id=TEAM, channel_id=where, connection_id=conn.id, ref=ref, created_by=user,
                         created_at=now)

        def target(user: str, muted: str | None = None) -> Target:
            return Target(team_id=TEAM, channel_id=channel, metric="acc", op=">=", threshold=0.9, created_by=user,
                          muted_by=muted, created_at=now)

        def review(user: str, state: str) -> Review:
            return Review(team_id=TEAM, channel_id=channel, title="Sweep", at=now + timedelta(days=1),
                          original_at=now + timedelta(days=1), state=state, created_by=user, created_at=now)

        rows = {
            "watch": lambda u: watch(u, channel, "run-a"),
            "other": lambda u: watch(u, "C1", "run-b"),
            "target": lambda u: target(u),
            "muted": lambda u: target(u, muted=u),
            "review": lambda u: review(u, "scheduled"),
            "cancelled": lambda u: review(u, "cancelled"),
            "schedule": lambda u: Schedule(team_id=TEAM, channel_id=channel, kind="digest", time="17:00",
                                           days="0,1,2,3,4", created_by=u, created_at=now),
        }
        for kind, user in made_by.items():
            s.add(rows[kind](user))


def fail_one(services, fake_slack, key: str, channel: str, error: str) -> None:
    queue(services, key, channel=channel)
    fake_slack.fail_next("chat.postMessage", error)
    dispatcher(services).drain()
    dispatcher(services).drain()  # the DMs the failure queued


def dm_rows(services) -> list[Outbox]:
    with services.store.tx() as s:
        return list(s.scalars(select(Outbox).where(Outbox.op == "dm").order_by(Outbox.id)))


def test_one_dm_per_channel_per_day_to_whoever_set_it_up(services, fake_slack, clock):
    set_up(services, fake_slack, "C9", watch="U2", target="U3", review="U4", schedule="U5",
           other="U6", cancelled="U7", muted="U8")
    fail_one(services, fake_slack, "k1", "C9", "not_in_channel")
    with services.store.tx() as s:
        assert s.scalar(select(Outbox.status).where(Outbox.dedupe_key == "k1")) == "failed"
    for user in ("U2", "U3", "U4", "U5"):
        [dm] = fake_slack.messages(user)
        text = shown(dm)
        assert "<#C9>" in text and "a run update" in text and "/invite @readybot" in text
        assert "another channel" in text
    for user in ("U6", "U7", "U8"):  # a watch elsewhere, a cancelled review, a muted target
        assert fake_slack.messages(user) == []
    assert all(row.status == "sent" for row in dm_rows(services))

    # Later failures that day, on this channel, tell nobody again.
    fail_one(services, fake_slack, "k2", "C9", "not_in_channel")
    fail_one(services, fake_slack, "k3", "C9", "channel_not_found")
    assert len(dm_rows(services)) == 4
    assert all(len(fake_slack.messages(user)) == 1 for user in ("U2", "U3", "U4", "U5"))

    clock.advance(days=1)  # the next day, once more
    fail_one(services, fake_slack, "k4", "C9", "not_in_channel")
    assert all(len(fake_slack.messages(user)) == 2 for user in ("U2", "U3", "U4", "U5"))


def test_each_channel_is_reported_on_its_own(services, fake_slack):
    set_up(services, fake_slack, "C8", watch="U2")
    set_up(services, fake_slack, "C9", watch="U2", target="U3")
    fail_one(services, fake_slack, "k1", "C8", "is_archived")
    fail_one(services, fake_slack, "k2", "C9", "not_in_channel")
    first, second = fake_slack.messages("U2")
    assert "<#C8>" in shown(first) and "archived" in shown(first)
    assert "<#C9>" in shown(second)
    assert len(fake_slack.messages("U3")) == 1


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_blocks_too_long"])
def test_other_permanent_errors_tell_nobody(services, fake_slack, error):
    set_up(services, fake_slack, "C9", watch="U2", target="U3")
    fail_one(services, fake_slack, "k1", "C9", error)
    with services.store.tx() as s:
        assert s.scalar(select(Outbox.status).where(Outbox.dedupe_key == "k1")) == "failed"
    assert dm_rows(services) == []


def test_at_most_a_few_people_the_newest_first(services, fake_slack, clock):
    users = [f"U{n}" for n in range(10, 10 + undeliverable.MAX_PEOPLE + 2)]
    for user in users:
        set_up(services, fake_slack, "C9", watch=user)
        clock.advance(minutes=1)
    fail_one(services, fake_slack, "k1", "C9", "not_in_channel")
    assert sorted(row.channel_id for row in dm_rows(services)) == users[-undeliverable.MAX_PEOPLE:]


def test_a_failed_dm_tells_nobody(services, fake_slack):
    set_up(services, fake_slack, "C9", watch="U2")
    queue(services, "k1", channel="U2", op="dm")
    fake_slack.fail_next("chat.postMessage", "channel_not_found")
    dispatcher(services).drain()
    assert [row.dedupe_key for row in dm_rows(services)] == ["k1"]
