"""Data belongs to a (team, channel), not to a channel id (issue 12, item 6).

Channel ids are not unique across workspaces (Slack Connect shares a channel between
workspaces, and ids can collide): signed /ready commands from a second team T2 naming channel C1
must see and change nothing of what team T1 set up in its own C1. Runs arrive through the push
API; every assertion reads what the T2 user is told, or what T1 still has.
"""

from __future__ import annotations

import html
import re

import pytest
import requests
from sqlalchemy import select

from bot.sandbox.world import TEAM_ID
from bot.store.models import DigestPost, Schedule, Target
from tests.conftest import T0
from tests.slack_text import shown

T1, T2 = TEAM_ID, "T2OTHER"
CHANNEL = "C1"


def say(bot, text: str, team: str = T1, user: str = "U1") -> str:
    return html.unescape(bot.reply(text, team_id=team, user_id=user, channel_id=CHANNEL))


def push_run(bot, token: str, ref: str, **body) -> None:  # noqa: ANN003
    resp = requests.post(f"{bot.server.url}/api/v1/runs/{ref}", json={"state": "running", **body}, timeout=5,
                         headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text


@pytest.fixture
def t1(bot):
    """Team T1 in its C1: a pushed run tracked, a target, a review, a standup and a digest."""
    bot.clock.now = T0
    token = re.search(r"`(rbp_[^`]+)`", say(bot, "connect push as trainer"))[1]
    push_run(bot, token, "t1-run", step=10, total_steps=1000, metrics={"val_acc": 0.5})
    assert "Now tracking" in say(bot, "track trainer:t1-run")
    assert "Target *#1* set" in say(bot, "target val_acc >= 0.9")
    assert "Scheduled review #1" in say(bot, 'review "T1 only" at 16:00 runs trainer:t1-run')
    assert "Standup set" in say(bot, "standup at 09:30")
    assert "Digest set" in say(bot, "digest at 17:00")
    return bot


def feed_token(text: str) -> str:
    return re.search(r"/calendar/([A-Za-z0-9_-]+)\.ics", text)[1]


def test_another_team_lists_nothing_of_team_one(t1):
    assert "No targets in this channel yet" in say(t1, "targets", team=T2)
    assert "No runs are tracked in this channel yet" in say(t1, "runs", team=T2)
    listed = say(t1, "reviews", team=T2)
    assert "T1 only" not in listed
    # The calendar feed of T2's C1 is its own: another token, and T1's review is not in it.
    assert feed_token(listed) != feed_token(say(t1, "reviews"))
    resp = requests.get(f"{t1.server.url}/calendar/{feed_token(listed)}.ics", timeout=5)
    assert resp.status_code == 200 and "T1 only" not in resp.text


def test_another_team_cannot_remove_or_turn_off_what_team_one_set(t1):
    assert "There is no target #1 in this channel" in say(t1, "target remove 1", team=T2)
    assert "There is no review #1 in this channel" in say(t1, "review cancel 1", team=T2)
    assert "There is no standup scheduled in this channel" in say(t1, "standup off", team=T2)
    assert "There is no digest scheduled in this channel" in say(t1, "digest off", team=T2)
    with t1.services.store.tx() as s:
        assert s.scalars(select(Target.id)).all() == [1]
        assert sorted(s.scalars(select(Schedule.kind).where(Schedule.enabled.is_(True)))) == ["digest", "standup"]
    assert "#1" in say(t1, "targets") and "T1 only" in say(t1, "reviews")


def test_the_same_channel_id_in_two_teams_keeps_two_schedules_and_two_digests(t1):
    assert "Standup set" in say(t1, "standup at 11:00", team=T2)
    assert "Digest on its way" in say(t1, "digest now")
    # Same second, same channel id, other team: its own digest, not "just posted here".
    assert "Digest on its way" in say(t1, "digest now", team=T2)
    with t1.services.store.tx() as s:
        schedules = {(r.team_id, r.kind): r.time for r in s.scalars(select(Schedule))}
        digests = sorted(s.scalars(select(DigestPost.team_id)))
    assert schedules[(T1, "standup")] == "09:30" and schedules[(T2, "standup")] == "11:00"
    assert digests == sorted([T1, T2])
    t1.deliver()
    digests = [m for m in t1.fake.messages(CHANNEL) if "Run digest" in shown(m)]
    assert len(digests) == 2
    assert "t1-run" in shown(digests[0]) and "t1-run" not in shown(digests[1])  # T2's has none of T1's runs
