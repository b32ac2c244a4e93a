"""The buttons on a target alert, pressed with signed interactivity payloads: each changes the
stored state and edits the alert message in place to say who did what."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.store.models import Alert, Target, TargetProgress
from tests.conftest import T0
from tests.e2e.targets_support import (
    CHANNEL,
    alerts,
    buttons,
    ms,
    new_experiment,
    shown,
    start_run,
    top_level,
)

pytestmark = pytest.mark.mlflow


@pytest.fixture
def alerted(bot, mlflow_server, mlflow_logger):
    """A posted alert: `val_acc >= 0.9` reached at step 1."""
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    run_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "resnet-c", T0)
    bot.reply("target val_acc >= 0.9")
    bot.fake.add_user("U2", "bob")
    bot.run_id = run_id
    log(bot, mlflow_logger, 0.95)
    [message] = top_level(bot)
    return bot, message


def log(bot, mlflow_logger, *values: float) -> None:
    """Log values at the next steps, one poll each."""
    for value in values:
        bot.step = getattr(bot, "step", 0) + 1
        at = bot.clock.advance(minutes=1)
        mlflow_logger.log_metrics(bot.run_id, [("val_acc", value, bot.step, ms(at))])
        bot.cycle()


def press(bot, message: dict, action_id: str, user: str = "U1") -> dict:
    """Click a button and wait for the edit; returns the message as it is now."""
    before = len(bot.fake.calls("chat.update"))
    resp = bot.slack.block_action(action_id, buttons(message)[action_id], user_id=user, message_ts=message["ts"])
    assert resp.status_code == 200
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("chat.update")) > before), f"{action_id}: no edit"
    [now] = [m for m in bot.fake.messages(CHANNEL) if m["ts"] == message["ts"]]
    return now


def the_alert(bot) -> Alert:
    return alerts(bot)[0]


def test_acknowledge_records_who_and_edits_the_message(alerted):
    bot, message = alerted
    edited = press(bot, message, "target_ack", user="U2")
    assert the_alert(bot).acknowledged_by == "U2"
    assert "Acknowledged by <@U2>" in shown(edited)
    assert "target_ack" not in buttons(edited)  # nothing left to acknowledge
    assert bot.fake.last("chat.update").params["ts"] == message["ts"]


def test_snooze_holds_back_the_next_crossing_for_an_hour(alerted, mlflow_logger):
    bot, message = alerted
    edited = press(bot, message, "target_snooze")
    with bot.services.store.tx() as s:
        progress = s.scalars(select(TargetProgress)).one()
    assert progress.snoozed_until == bot.clock.now + timedelta(hours=1)
    assert "<@U1> snoozed this target for this run until" in shown(edited)

    log(bot, mlflow_logger, 0.5, 0.95)  # re-armed, crossed again: recorded, not posted
    assert [a.crossing for a in alerts(bot)] == [1, 2] and len(top_level(bot)) == 1
    bot.clock.advance(hours=1)
    log(bot, mlflow_logger, 0.5, 0.96)
    assert len(top_level(bot)) == 2 and "0.96" in shown(top_level(bot)[-1])


def test_mute_silences_the_target(alerted, mlflow_logger):
    bot, message = alerted
    edited = press(bot, message, "target_mute")
    with bot.services.store.tx() as s:
        assert s.scalars(select(Target)).one().muted_by == "U1"
    assert "<@U1> muted target #1" in shown(edited) and "target_mute" not in buttons(edited)
    log(bot, mlflow_logger, 0.5, 0.97)
    assert len(top_level(bot)) == 1 and len(alerts(bot)) == 1
    assert "muted by <@U1>" in bot.reply("targets")


def test_schedule_review_opens_the_prefilled_modal(alerted):
    bot, message = alerted
    edited = press(bot, message, "target_review")
    [modal] = bot.fake.modals()
    assert modal["callback_id"] == "review_modal"
    assert f"mlflow:{bot.run_id}" in json.dumps(modal)  # the run is filled in
    assert CHANNEL in modal["private_metadata"]
    assert "<@U1> is scheduling a results review" in shown(edited)


def test_every_press_is_one_edit_and_state_survives_in_the_message(alerted):
    bot, message = alerted
    press(bot, message, "target_ack")
    edited = press(bot, message, "target_snooze", user="U2")
    text = shown(edited)
    assert "Acknowledged by <@U1>" in text and "<@U2> snoozed" in text  # later edits keep earlier notes
    assert len(bot.fake.calls("chat.update")) == 2


def test_badly_signed_press_changes_nothing(alerted):
    bot, message = alerted
    resp = bot.slack.block_action("target_ack", buttons(message)["target_ack"], message_ts=message["ts"],
                                  secret="not-the-secret")
    assert resp.status_code == 401
    assert the_alert(bot).acknowledged_by is None and bot.deliver() == 0


def test_press_after_the_target_was_removed_says_so(alerted):
    bot, message = alerted
    assert "Removed target #1" in bot.reply("target remove 1")
    bot.slack.block_action("target_ack", buttons(message)["target_ack"], message_ts=message["ts"])
    assert bot.fake.wait_for(lambda: bot.fake.ephemerals(CHANNEL))
    assert "removed" in bot.fake.ephemerals(CHANNEL)[-1]["text"]


def test_a_removed_targets_id_is_never_given_again(alerted, mlflow_logger):
    """Issue 12 item 4: SQLite gave a new target the id of the one just removed, so its alert's
    outbox key `target-alert:<id>` already existed (nothing was posted) and the old alert's Mute
    button muted the new target of another channel. Ids are never reused, on both databases."""
    bot, message = alerted
    assert "Removed target #1" in bot.reply("target remove 1")
    bot.fake.add_channel("C2", "ml-eval", ["U1"])
    assert "Now tracking" in bot.reply(f"track mlflow:{bot.run_id}", channel_id="C2")
    reply = bot.reply("target val_acc >= 0.9", channel_id="C2")
    assert "Target *#2* set" in reply, reply
    log(bot, mlflow_logger, 0.97)
    assert len(top_level(bot, "C2")) == 1 and "val_acc" in shown(top_level(bot, "C2")[0])

    bot.slack.block_action("target_mute", buttons(message)["target_mute"], message_ts=message["ts"])
    assert bot.fake.wait_for(lambda: bot.fake.ephemerals(CHANNEL))
    assert "removed" in bot.fake.ephemerals(CHANNEL)[-1]["text"]
    with bot.services.store.tx() as s:
        assert s.scalars(select(Target)).one().muted_by is None
