"""Who may change what (issue 12, item 7): only whoever set something up, or a workspace admin or
owner (users.info `is_admin` / `is_owner`), may remove a target, cancel or postpone a review,
untrack a run or turn off a standup or digest. Anyone else is told, ephemerally, who can, and
nothing changes. Signed /ready commands and clicks through the real Bolt app; runs are pushed.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import select

from bot.store.models import Review, Schedule, Target, Watch

CHANNEL = "C1"


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 23, hh, mm, tzinfo=UTC)


def say(bot, text: str, user: str = "U1") -> str:
    return html.unescape(bot.reply(text, user_id=user, channel_id=CHANNEL))


@pytest.fixture
def setup(bot):
    """U1 (alice) set up a tracked run, a target, a review at 10:30, a standup and a digest;
    U2 (bob) is a member, U3 (erin) a workspace admin, U4 (olga) the owner."""
    bot.clock.now = at(10)
    bot.fake.add_user("U2", "bob")
    bot.fake.add_user("U3", "erin", is_admin=True)
    bot.fake.add_user("U4", "olga", is_owner=True)
    bot.fake.add_channel(CHANNEL, "general", ["U0BOT", "U1", "U2", "U3", "U4"])
    token = re.search(r"`(rbp_[^`]+)`", say(bot, "connect push as trainer"))[1]
    resp = requests.post(f"{bot.server.url}/api/v1/runs/slow", timeout=5, headers={"Authorization": f"Bearer {token}"},
                         json={"state": "running", "step": 10, "total_steps": 1000, "started_at": at(9, 50).isoformat()})
    assert resp.status_code == 200
    assert "Now tracking" in say(bot, "track trainer:slow")
    assert "Target *#1* set" in say(bot, "target val_acc >= 0.9")
    assert "Scheduled review #1" in say(bot, 'review "Soon" at 10:30 runs trainer:slow')
    assert "Standup set" in say(bot, "standup at 09:30")
    assert "Digest set" in say(bot, "digest at 17:00")
    return bot


def state(bot) -> tuple:
    with bot.services.store.tx() as s:
        return (s.scalars(select(Target.id)).all(), s.get(Review, 1).state, s.get(Review, 1).at,
                len(s.scalars(select(Watch.id)).all()),
                sorted(s.scalars(select(Schedule.kind).where(Schedule.enabled.is_(True)))))


def test_a_member_who_did_not_set_it_up_is_told_who_can_and_nothing_changes(setup):
    bot = setup
    before = state(bot)
    refusals = {
        "target remove 1": "Only <@U1> who set it, or a workspace admin, can remove target #1.",
        "review cancel 1": "Only <@U1> who set it, or a workspace admin, can cancel review #1.",
        "untrack trainer:slow": "Only <@U1> who set it, or a workspace admin, can stop tracking `trainer:slow` here.",
        "standup off": "Only <@U1> who set it, or a workspace admin, can turn off the standup of this channel.",
        "digest off": "Only <@U1> who set it, or a workspace admin, can turn off the digest of this channel.",
    }
    for command, refusal in refusals.items():
        assert say(bot, command, user="U2") == f":warning: {refusal} Nothing was changed.", command
    assert state(bot) == before


def test_the_warning_buttons_postpone_and_cancel_are_the_creators_meet_as_planned_is_anyones(setup):
    bot = setup
    bot.deliver()
    [warning] = [m for m in bot.fake.messages(CHANNEL) if (m.get("text") or "").startswith("Not ready")]
    for action_id in ("review_postpone", "review_cancel"):
        bot.slack.block_action(action_id, "1", user_id="U2", channel_id=CHANNEL, message_ts=warning["ts"])
    said = bot.fake.wait_for(lambda: len(bot.fake.ephemerals(CHANNEL)) >= 2 and bot.fake.ephemerals(CHANNEL))
    assert [e["text"] for e in said] == [
        ":warning: Only <@U1> who set it, or a workspace admin, can postpone review #1. Nothing was changed.",
        ":warning: Only <@U1> who set it, or a workspace admin, can cancel review #1. Nothing was changed."]
    assert all(e["user"] == "U2" for e in said)
    assert state(bot)[1:3] == ("waiting", at(10, 30))
    bot.slack.block_action("review_hold", "1", user_id="U2", channel_id=CHANNEL, message_ts=warning["ts"])
    assert bot.fake.wait_for(lambda: state(bot)[1] == "held")


def test_the_creator_and_workspace_admins_and_owners_may(setup):
    bot = setup
    assert "Removed target #1" in say(bot, "target remove 1", user="U3")  # admin
    assert "cancelled review #1" in say(bot, "review cancel 1", user="U4")  # owner
    assert "Stopped tracking" in say(bot, "untrack trainer:slow", user="U3")
    assert "is off" in say(bot, "standup off")  # the creator
    assert "is off" in say(bot, "digest off", user="U4")
    assert state(bot)[0] == [] and state(bot)[3:] == (0, [])


def test_admin_is_asked_of_slack_once_in_a_while_and_an_unanswered_question_refuses(setup):
    bot = setup
    bot.fake.fail_next("users.info", "fatal_error")
    assert "Only <@U1> who set it" in say(bot, "target remove 1", user="U3")  # Slack could not say: no
    asked = len(bot.fake.calls("users.info"))
    assert "Removed target #1" in say(bot, "target remove 1", user="U3")
    assert "cancelled review #1" in say(bot, "review cancel 1", user="U3")
    assert len(bot.fake.calls("users.info")) == asked + 1  # the second admin action used the cached answer


def test_resetting_a_schedule_someone_else_set_does_not_make_it_yours(setup):
    bot = setup
    assert "Standup set" in say(bot, "standup at 10:00", user="U2")
    assert "Only <@U1> who set it" in say(bot, "standup off", user="U2")
