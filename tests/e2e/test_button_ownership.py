"""Buttons act only on what belongs to the team and channel they were clicked in (issue 12, item 5).

A button's value is a row id; a signed block_actions payload from team T2, or from another
channel C9, naming an alert, a review or a standup prompt of team T1's C1 must change nothing and
tell the clicker why. Runs arrive through the push API; clicks are signed interactivity payloads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import select

from bot.sandbox.world import TEAM_ID
from bot.store.models import Alert, Review, Schedule, StandupAnswer, Target, TargetProgress
from tests.e2e.targets_support import buttons, top_level

T1, T2 = TEAM_ID, "T2OTHER"
CHANNEL, ELSEWHERE = "C1", "C9"


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 23, hh, mm, tzinfo=UTC)


def push(bot, token: str, ref: str, **body) -> None:  # noqa: ANN003
    resp = requests.post(f"{bot.server.url}/api/v1/runs/{ref}", json=body, timeout=5,
                         headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text


@pytest.fixture
def token(bot):
    bot.clock.now = at(10)
    bot.fake.add_channel(ELSEWHERE, "elsewhere", ["U0BOT", "U1"])
    return re.search(r"`(rbp_[^`]+)`", bot.reply("connect push as trainer"))[1]


@pytest.fixture
def alert(bot, token):
    """T1's C1 alert: `val_acc >= 0.9` reached by a pushed run."""
    push(bot, token, "r1", state="running", step=1, metrics={"val_acc": 0.5})
    assert "Now tracking" in bot.reply("track trainer:r1")
    bot.reply("target val_acc >= 0.9")
    push(bot, token, "r1", state="running", step=2, metrics={"val_acc": 0.95})
    bot.deliver()
    [message] = top_level(bot)
    return message


def refusals(bot, channel: str, count: int) -> list[str]:
    said = bot.fake.wait_for(lambda: len(bot.fake.ephemerals(channel)) >= count and bot.fake.ephemerals(channel))
    return [e["text"] for e in said]


@pytest.mark.parametrize("team, channel", [(T2, CHANNEL), (T1, ELSEWHERE)], ids=["other-team", "other-channel"])
def test_alert_buttons_from_another_team_or_channel_change_nothing(bot, alert, team, channel):
    for action_id in ("target_ack", "target_snooze", "target_mute", "target_review"):
        resp = bot.slack.block_action(action_id, buttons(alert)[action_id], channel_id=channel, team_id=team,
                                      message_ts=alert["ts"])
        assert resp.status_code == 200
    said = refusals(bot, channel, 4)
    assert said == [":warning: That alert belongs to another channel; nothing was changed."] * 4
    bot.deliver()
    with bot.services.store.tx() as s:
        assert s.scalars(select(Alert.acknowledged_by)).all() == [None]
        assert s.scalars(select(Target.muted_by)).all() == [None]
        assert [p.snoozed_until for p in s.scalars(select(TargetProgress))] == [None]
    assert bot.fake.calls("chat.update") == [] and bot.fake.modals() == []
    # In its own channel, the same button still works.
    bot.slack.block_action("target_ack", buttons(alert)["target_ack"], message_ts=alert["ts"])
    assert bot.fake.wait_for(lambda: bot.fake.calls("chat.update"))


def test_review_buttons_from_another_team_change_nothing(bot, token):
    push(bot, token, "slow", state="running", step=10, total_steps=1000, started_at=at(9, 50).isoformat())
    bot.reply('review "Soon" at 10:30 runs trainer:slow')
    bot.deliver()
    [warning] = [m for m in bot.fake.messages(CHANNEL) if (m.get("text") or "").startswith("Not ready")]
    for action_id in ("review_postpone", "review_hold", "review_cancel"):
        bot.slack.block_action(action_id, "1", channel_id=CHANNEL, team_id=T2, message_ts=warning["ts"])
    assert refusals(bot, CHANNEL, 3) == [":warning: There is no review #1 in this channel.\n"
                                         "Usage: `/ready reviews`"] * 3
    with bot.services.store.tx() as s:
        assert s.get(Review, 1).state == "waiting" and s.get(Review, 1).at == at(10, 30)


@pytest.fixture
def standup(bot):
    """T1's standup in C1, opened now: U1 has a prompt in their DM."""
    bot.clock.now = at(10)
    assert "Standup started" in bot.reply("standup now")
    bot.deliver()
    [prompt] = bot.fake.messages("U1")
    return prompt


def test_standup_prompt_buttons_from_another_team_change_nothing(bot, standup):
    values = buttons(standup)
    for action_id in ("standup_answer", "standup_skip", "standup_away"):
        bot.slack.block_action(action_id, values[action_id], channel_id="DU1", team_id=T2,
                               message_ts=standup["ts"])
    told = bot.fake.wait_for(lambda: len(bot.fake.messages("U1")) >= 4 and bot.fake.messages("U1"))
    assert [m["text"] for m in told[1:]] == [
        ":warning: This standup prompt is not yours, or it no longer exists."] * 3
    assert bot.fake.modals() == []
    with bot.services.store.tx() as s:
        assert s.scalars(select(StandupAnswer.status)).all() == ["pending"]


def test_edit_questions_of_another_channel_is_refused(bot):
    bot.reply("standup at 09:30")
    bot.slack.block_action("standup_questions", CHANNEL, channel_id=ELSEWHERE)
    bot.slack.block_action("standup_questions", CHANNEL, channel_id=CHANNEL, team_id=T2)
    told = bot.fake.wait_for(lambda: len(bot.fake.messages("U1")) >= 2 and bot.fake.messages("U1"))
    assert [m["text"] for m in told] == [
        ":warning: Those are the standup questions of another channel; nothing was changed.",
        ":warning: Set a standup first with `/ready standup at &lt;HH:MM&gt;`."]
    assert bot.fake.modals() == []
    with bot.services.store.tx() as s:
        assert s.scalars(select(Schedule.questions)).all() == [{}]


@pytest.mark.parametrize("value", ["²", "١"])
def test_standup_buttons_naming_a_non_ascii_digit_are_refused_not_a_traceback(bot, standup, value, capfd):
    """'²'.isdigit() is true and int('²') raises; '١' is read as 1 by int(): neither names a prompt."""
    for action_id in ("standup_answer", "standup_skip", "standup_away"):
        bot.slack.block_action(action_id, value, channel_id="DU1", message_ts=standup["ts"])
    told = bot.fake.wait_for(lambda: len(bot.fake.messages("U1")) >= 4 and bot.fake.messages("U1"))
    assert [m["text"] for m in told[1:]] == [
        ":warning: This standup prompt is not yours, or it no longer exists."] * 3
    assert "Traceback" not in capfd.readouterr().err
    with bot.services.store.tx() as s:
        assert s.scalars(select(StandupAnswer.status)).all() == ["pending"]
