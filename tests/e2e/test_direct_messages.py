"""Messages typed to the bot in its DM (the app's Messages tab is on), over signed Events API
deliveries through the real Bolt app: a person gets the help; edits, bots and the bot's own
answers get nothing; a retried delivery is answered once.

Event shapes follow https://api.slack.com/events/message.im and the subtypes of
https://api.slack.com/events/message (message_changed, bot_message).
"""

from __future__ import annotations

import html
import itertools

import pytest

from bot.sandbox.world import BOT_ID, BOT_USER_ID, dm_id

DM = dm_id("U1")
_ts = itertools.count(1)


def typed(text: str, user: str = "U1", **extra) -> dict:  # noqa: ANN003
    ts = f"1732400000.{next(_ts):06d}"
    return {"type": "message", "channel": DM, "user": user, "text": text, "ts": ts, "event_ts": ts,
            "channel_type": "im", **extra}


def answers(bot) -> list[str]:
    return [html.unescape(m.get("text") or "") for m in bot.fake.messages(DM)]


@pytest.fixture
def dm(bot):
    bot.fake.world.open_dm("U1")  # the DM exists once someone writes in it
    return bot


def test_a_typed_message_gets_the_help(dm):
    assert dm.slack.event(typed("hi, what can you do?")).status_code == 200
    text = dm.fake.wait_for(lambda: answers(dm))[0]
    assert "I answer `/ready` commands" in text
    assert "/ready connect push [as <name>]" in text and "/ready track" in text


def test_asking_for_help_on_a_command_gets_that_command(dm):
    dm.slack.event(typed("help review"))
    text = dm.fake.wait_for(lambda: answers(dm))[0]
    assert text.startswith("*`/ready review`*")


def test_a_command_typed_as_a_message_is_shown_as_a_slash_command(dm):
    dm.slack.event(typed("track prod:3f2a"))
    text = dm.fake.wait_for(lambda: answers(dm))[0]
    assert "`/ready track prod:3f2a`" in text
    assert "No runs are tracked" in dm.reply("runs", channel_id=DM)  # nothing was run


def test_edits_bots_and_its_own_answers_get_no_answer(dm):
    ignored = [
        typed("edited", subtype="message_changed"),
        typed("a deploy bot says hi", subtype="bot_message", bot_id="B0OTHER"),
        typed("readybot's own help", user=BOT_USER_ID, bot_id=BOT_ID),
        typed("gone", subtype="message_deleted"),
        {**typed("in a channel"), "channel": "C1", "channel_type": "channel"},
    ]
    for event in ignored:
        assert dm.slack.event(event).status_code == 200
    # Which listener matches is settled before the delivery is acked; one real message after
    # them proves the listener is live and orders the check after the ignored ones.
    dm.slack.event(typed("hello"))
    dm.fake.wait_for(lambda: answers(dm))
    assert len(answers(dm)) == 1


def test_a_retried_delivery_is_answered_once(dm):
    event = typed("hello")
    dm.slack.event(event, event_id="EvDM1")
    dm.fake.wait_for(lambda: answers(dm))
    for retry in (1, 2):
        assert dm.slack.event(event, event_id="EvDM1", retry_num=retry).status_code == 200
    dm.slack.event(typed("again"), event_id="EvDM2")
    dm.fake.wait_for(lambda: len(answers(dm)) >= 2)
    assert len(answers(dm)) == 2


def test_a_key_typed_in_a_message_is_not_echoed(dm):
    dm.slack.event(typed("connect mlflow https://m.example.com key=s3cr3t"))
    text = dm.fake.wait_for(lambda: answers(dm))[0]
    assert "s3cr3t" not in text and "`/ready connect mlflow https://m.example.com key=…`" in text
