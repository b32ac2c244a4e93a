"""The "unlikely to reach the target" message: a run whose curve flattens below its target is
told once, against a real MLflow server and for a pushed run; Keep going edits it, Mute for this run
holds back the run's later alerts of that target until someone unmutes it."""

from __future__ import annotations

import math
import random
import re
from datetime import timedelta

import pytest
import requests

from bot.jobs.digests import post_digest
from bot.sandbox.world import BOT_USER_ID
from bot.store.models import Run
from tests.conftest import T0
from tests.e2e.targets_support import CHANNEL, buttons, ms, new_experiment, shown, start_run, top_level

UNLIKELY = "unlikely to reach its target"


def flattening(n: int, top: float = 0.87) -> list[tuple[int, float]]:
    """val_acc levelling off at `top`, with a little noise: (step, value) for n evals."""
    rnd = random.Random(7)
    return [(s * 100, top - 0.3 * math.exp(-s / 8) + rnd.gauss(0, 0.002)) for s in range(1, n + 1)]


def unlikely_messages(bot) -> list[dict]:
    return [m for m in top_level(bot) if UNLIKELY in shown(m)]


def run_id_of(bot, ref: str) -> int:
    with bot.services.store.tx() as s:
        return next(r.id for r in s.query(Run).all() if r.ref == ref)


def click(bot, message: dict, action_id: str, user: str = "U1", channel: str = CHANNEL) -> None:
    resp = bot.slack.block_action(action_id, buttons(message)[action_id], user_id=user, channel_id=channel,
                                  message_ts=message["ts"])
    assert resp.status_code == 200


def edited(bot, needle: str) -> dict:
    """The unlikely message once a click's edit reached Slack (the click is answered first)."""
    return bot.fake.wait_for(lambda: next((m for m in unlikely_messages(bot) if needle in shown(m)), None))


# --- MLflow ---------------------------------------------------------------------------------


@pytest.fixture
def flattened(bot, mlflow_server, mlflow_logger):
    """An MLflow run levelling off at val_acc 0.87 against a 0.90 target, polled every 5 evals."""
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    run_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "resnet-flat", T0 - timedelta(hours=1))
    assert "Target *#1* set" in bot.reply("target val_acc >= 0.9")
    for i, (step, value) in enumerate(flattening(40), start=1):
        at = bot.clock.advance(minutes=1)
        mlflow_logger.log_metrics(run_id, [("val_acc", value, step, ms(at))])
        if i % 5 == 0:
            bot.cycle()
    return bot, run_id


@pytest.mark.mlflow
def test_mlflow_run_flattening_below_target_is_told_once(flattened):
    bot, run_id = flattened
    [message] = unlikely_messages(bot)
    text = shown(message)
    assert "resnet-flat" in text and "projected to plateau at val_acc 0.8" in text and "below the 0.90 target" in text
    assert buttons(message) == {"run_stop": str(run_id_of(bot, run_id)), "forecast_keep": f"1:{run_id_of(bot, run_id)}",
                                "forecast_mute": f"1:{run_id_of(bot, run_id)}"}
    for _ in range(3):  # more polls, nothing new: no second message
        bot.clock.advance(minutes=1)
        bot.cycle()
    assert len(unlikely_messages(bot)) == 1


@pytest.mark.mlflow
def test_keep_going_edits_the_message_and_removes_the_buttons(flattened):
    bot, _ = flattened
    [message] = unlikely_messages(bot)
    click(bot, message, "forecast_keep", user="U1")
    now = edited(bot, "chose to keep going")
    assert "<@U1> chose to keep going" in shown(now) and buttons(now) == {}
    click(bot, message, "forecast_mute", user="U2")  # a later press on the old buttons changes nothing
    bot.deliver()
    assert len(bot.fake.calls("chat.update")) == 1


def reached(bot) -> list[dict]:
    return [m for m in top_level(bot) if "reached its target" in shown(m)]


def climb(bot, mlflow_logger, run_id: str, steps: range, value: float) -> None:
    """The run jumps to `value` (over the 0.90 target) for these steps, then is polled."""
    for step in steps:
        mlflow_logger.log_metrics(run_id, [("val_acc", value, step, ms(bot.clock.advance(minutes=1)))])
    bot.cycle()


@pytest.mark.mlflow
def test_mute_for_this_run_holds_back_its_later_alerts_until_unmuted(flattened, mlflow_logger):
    bot, run_id = flattened
    [message] = unlikely_messages(bot)
    click(bot, message, "forecast_mute", user="U1")  # U1 set the target
    now = edited(bot, "Muted for this run by")
    assert "Muted for this run by <@U1>" in shown(now)
    assert buttons(now) == {"forecast_unmute": f"1:{run_id_of(bot, run_id)}"}
    assert f"muted for run `mlflow:{run_id}` by <@U1>" in shown({"text": bot.reply("targets")})

    # The run reaches the target after all: recorded, but the channel is not told.
    climb(bot, mlflow_logger, run_id, range(4100, 4400, 100), 0.93)
    assert reached(bot) == [] and len(unlikely_messages(bot)) == 1

    click(bot, now, "forecast_unmute", user="U1")
    back = edited(bot, "Unmuted by")
    assert "Unmuted by <@U1>" in shown(back) and set(buttons(back)) == {"forecast_mute"}
    assert "muted for run" not in bot.reply("targets")
    climb(bot, mlflow_logger, run_id, range(4400, 4600, 100), 0.5)  # falls back below: re-armed
    climb(bot, mlflow_logger, run_id, range(4600, 4900, 100), 0.94)
    [alert] = reached(bot)
    assert "0.94" in shown(alert)


@pytest.mark.mlflow
def test_only_the_targets_creator_the_muter_or_an_admin_may_mute_or_unmute(flattened):
    bot, run_id = flattened
    bot.fake.add_user("U2", "bob")
    bot.fake.add_user("U3", "erin", is_admin=True)
    bot.fake.add_channel(CHANNEL, "general", [BOT_USER_ID, "U1", "U2", "U3"])
    [message] = unlikely_messages(bot)
    click(bot, message, "forecast_mute", user="U2")
    [refusal] = bot.fake.wait_for(lambda: bot.fake.ephemerals(CHANNEL))
    assert refusal["text"] == (":warning: Only <@U1> who set the target or muted it, or a workspace admin, can mute "
                               "target #1 for run *resnet-flat*. Nothing was changed.")
    assert bot.fake.calls("chat.update") == [] and "muted for run" not in bot.reply("targets")

    click(bot, message, "forecast_mute", user="U3")  # an admin
    muted = edited(bot, "Muted for this run by <@U3>")
    click(bot, muted, "forecast_unmute", user="U2")
    bot.fake.wait_for(lambda: len(bot.fake.ephemerals(CHANNEL)) == 2)
    assert "Only <@U1> or <@U3> who set the target or muted it" in bot.fake.ephemerals(CHANNEL)[-1]["text"]
    assert f"muted for run `mlflow:{run_id}` by <@U3>" in shown({"text": bot.reply("targets")})
    click(bot, muted, "forecast_unmute", user="U1")  # the target's creator may undo the admin's mute
    edited(bot, "Unmuted by <@U1>")


@pytest.mark.mlflow
def test_buttons_from_another_channel_change_nothing(flattened):
    bot, _ = flattened
    [message] = unlikely_messages(bot)
    bot.fake.add_channel("C9", "elsewhere", ["U0BOT", "U1"])
    click(bot, message, "forecast_mute", channel="C9")
    said = bot.fake.wait_for(lambda: bot.fake.ephemerals("C9"))
    assert said[0]["text"] == ":warning: That alert belongs to another channel; nothing was changed."
    bot.deliver()
    assert bot.fake.calls("chat.update") == [] and set(buttons(unlikely_messages(bot)[0])) == {
        "run_stop", "forecast_keep", "forecast_mute"}


@pytest.mark.mlflow
def test_a_run_on_its_way_to_the_target_is_not_told(bot, mlflow_server, mlflow_logger):
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    run_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "resnet-good", T0 - timedelta(hours=1))
    bot.reply("target val_acc >= 0.9")
    for step, value in flattening(30, top=0.95)[:25]:
        mlflow_logger.log_metrics(run_id, [("val_acc", value, step, ms(bot.clock.advance(minutes=1)))])
    bot.cycle()
    assert unlikely_messages(bot) == []


# --- pushed run -----------------------------------------------------------------------------


def test_pushed_run_flattening_below_target_is_told_once(bot):
    token = re.search(r"`(rbp_[^`]+)`", bot.reply("connect push as trainer"))[1]

    def push(step: int, value: float) -> None:
        resp = requests.post(f"{bot.server.url}/api/v1/runs/my-run", timeout=10,
                             json={"state": "running", "step": step, "metrics": {"val_acc": value}},
                             headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text

    push(1, 0.5)
    assert "Now tracking" in bot.reply("track trainer:my-run")
    bot.reply("target val_acc >= 0.9")
    for step, value in flattening(40):
        bot.clock.advance(minutes=1)
        push(step, value)
    bot.deliver()
    [message] = unlikely_messages(bot)
    assert "projected to plateau at val_acc 0.8" in shown(message)
    assert set(buttons(message)) == {"run_stop", "forecast_keep", "forecast_mute"}
    click(bot, message, "forecast_keep")
    assert buttons(edited(bot, "chose to keep going")) == {}
    assert "projected to plateau at val_acc 0.8" in bot.reply("runs")  # the same projection in /ready runs
    assert post_digest(bot.services, "T0SANDBOX", CHANNEL, "2026-12-02", bot.clock())
    bot.deliver()
    [digest] = [m for m in top_level(bot) if "Run digest" in shown(m)]
    assert ":crystal_ball: projected to plateau at val_acc 0.8" in shown(digest)  # and in the digest


def test_ready_runs_says_not_enough_data_for_a_young_run(bot):
    token = re.search(r"`(rbp_[^`]+)`", bot.reply("connect push as trainer"))[1]
    for step in (1, 2, 3):
        requests.post(f"{bot.server.url}/api/v1/runs/young", timeout=10, headers={"Authorization": f"Bearer {token}"},
                      json={"state": "running", "step": step, "metrics": {"val_acc": 0.1 * step}})
        if step == 1:
            bot.reply("track trainer:young")
            bot.reply("target val_acc >= 0.9")
    assert "not enough data to forecast" in bot.reply("runs")
