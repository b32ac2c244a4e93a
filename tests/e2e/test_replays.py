"""Replays and double submissions (issue 12, item 8): the same signed request sent again inside
Slack's five-minute replay window, or a modal submitted several times, creates one object; the
repeat gets a short note. A refused request does not count: fixed and sent again, it goes through."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.sandbox.signed import VERIFICATION_TOKEN
from bot.store.models import Connection, Review, Schedule, Target, Watch


def count(bot, model) -> int:
    with bot.services.store.tx() as s:
        return s.scalar(select(func.count()).select_from(model))


def command_body(bot, text: str, user: str = "U1", channel: str = "C1") -> str:
    """One slash command exactly as Slack signs it once: a replay resends these very bytes."""
    return urlencode({
        "token": VERIFICATION_TOKEN, "team_id": "T0SANDBOX", "team_domain": "sandbox", "channel_id": channel,
        "channel_name": "general", "user_id": user, "user_name": "u", "command": "/ready", "text": text,
        "api_app_id": "A0SANDBOX", "is_enterprise_install": "false",
        "response_url": bot.fake.new_response_url(channel, user=user), "trigger_id": f"{time.time_ns()}.1.x",
    })


def send_twice(bot, text: str) -> tuple[str, str]:
    body, stamp = command_body(bot, text), int(time.time())
    answers = []
    for _ in range(2):
        resp = bot.slack.post(body, "application/x-www-form-urlencoded", timestamp=stamp)
        assert resp.status_code == 200, resp.text
        answers.append(resp.json().get("text", "") if resp.text.strip() else "")
    return answers[0], answers[1]


@pytest.fixture
def pushed(bot):
    assert "created" in bot.reply("connect push as trainer")
    assert "Now tracking" in bot.reply("track trainer:r1")
    return bot


def test_a_replayed_review_command_schedules_one_review(pushed):
    bot = pushed
    first, second = send_twice(bot, 'review "Sweep" at tomorrow 14:00 runs trainer:r1')
    bot.fake.wait_for(lambda: count(bot, Review) >= 1)
    assert count(bot, Review) == 1
    assert "already" in second.lower() and "Sweep" not in second


@pytest.mark.parametrize("text, model, before", [
    ("connect push as other", Connection, 1),
    ("track trainer:r2", Watch, 1),
    ("target val_acc >= 0.9", Target, 0),
    ("standup at 09:30", Schedule, 0),
    ("digest at 17:00", Schedule, 0),
])
def test_every_creating_command_replayed_creates_once(pushed, text, model, before):
    bot = pushed
    assert count(bot, model) == before
    _, second = send_twice(bot, text)
    bot.fake.wait_for(lambda: count(bot, model) > before)
    assert count(bot, model) == before + 1
    assert "already" in second.lower()


def test_a_refused_command_sent_again_is_refused_again_not_called_done(pushed):
    first, second = send_twice(pushed, "track nowhere:r1")
    assert "No connection named `nowhere`" in first
    assert "No connection named `nowhere`" in second


def test_the_same_words_typed_twice_are_two_requests(pushed):
    bot = pushed
    first = bot.reply("target val_acc >= 0.9")
    second = bot.reply("target val_acc >= 0.9")
    assert "already done" not in second.lower(), (first, second)


def review_form(when: str) -> dict:
    return {"title": {"value": "Sweep results"}, "when": {"value": when}, "runs": {"value": "trainer:r1"},
            "policy": {"value": {"type": "static_select", "selected_option": {"value": "warn"}}}}


def test_a_review_form_submitted_four_times_schedules_one(pushed):
    bot = pushed
    bot.command("review runs trainer:r1")
    bot.fake.wait_for(lambda: bot.fake.modals())
    for _ in range(4):
        resp = bot.slack.view_submission("review_modal", review_form("tomorrow 14:00"))
        assert resp.status_code == 200
    assert count(bot, Review) == 1


def test_a_refused_form_fixed_and_submitted_again_schedules(pushed):
    bot = pushed
    bot.command("review runs trainer:r1")
    bot.fake.wait_for(lambda: bot.fake.modals())
    refused = bot.slack.view_submission("review_modal", review_form("2020-01-01 10:00"))
    assert refused.json()["response_action"] == "errors"
    assert bot.slack.view_submission("review_modal", review_form("tomorrow 14:00")).status_code == 200
    assert count(bot, Review) == 1


def test_a_connect_form_submitted_twice_connects_once(bot):
    bot.command("connect")
    bot.fake.wait_for(lambda: bot.fake.modals())
    values = {"kind": {"kind": {"type": "static_select", "selected_option": {"value": "push"}}},
              "name": {"name": "trainer"}}
    for _ in range(2):
        assert bot.slack.view_submission("connect_modal", values).status_code == 200
    assert count(bot, Connection) == 1
