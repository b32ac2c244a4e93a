"""Messages that stay true (issue 11): what the channel reads must not say something that is no
longer so. Signed requests through the real Bolt app, the outbox and the fake Slack."""

from __future__ import annotations

import dataclasses
import html
import re
import socket
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from bot.store.models import Connection
from tests.e2e.targets_support import buttons, ms, new_experiment, start_run, top_level
from tests.e2e.test_standups import answer, at, dms, head_and_thread, schedule, tick
from tests.e2e.test_standups import buttons as standup_buttons
from tests.e2e.test_standups import team as team  # noqa: F401, PLC0414 - the fixture, found by its name
from tests.e2e.test_targets_buttons import press
from tests.slack_text import shown


def connect_push(bot) -> str:
    reply = bot.reply("connect push as trainer")
    return re.search(r"`(rbp_[^`]+)`", reply)[1]


def push(bot, token: str, body: dict, ref: str = "resnet-7") -> requests.Response:
    resp = requests.post(f"{bot.server.url}/api/v1/runs/{ref}", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.ok, resp.text
    return resp


def stalled_run(bot) -> None:
    """resnet-7 at step 20 of 100, moving at 1 step a minute, then silent for 45 minutes."""
    token = connect_push(bot)
    push(bot, token, {"state": "running", "step": 10, "total_steps": 100})
    assert "Now tracking" in bot.reply("track trainer:resnet-7")
    bot.clock.advance(minutes=10)
    push(bot, token, {"state": "running", "step": 20})
    assert "ETA" in bot.reply("runs")  # moving: it has one
    bot.clock.advance(minutes=45)
    bot.cycle()  # the silence sweep marks it stalled


def test_a_stalled_run_shows_how_long_it_has_been_stalled_instead_of_an_eta(bot):
    stalled_run(bot)
    line = html.unescape(bot.reply("runs"))
    assert "stalled 45 min" in line and "ETA" not in line


def test_the_digest_says_how_long_a_run_has_been_stalled(bot):
    stalled_run(bot)
    bot.reply("digest now")
    bot.deliver()
    [digest] = [m for m in bot.fake.messages("C1") if "Run digest" in shown(m)]
    assert "stalled 45 min" in shown(digest) and "ETA" not in shown(digest)


# --- target alerts: step order, and what the alert offers once the run went wrong --------


def crossed_then(bot, mlflow_server, mlflow_logger, end: str | None, nan: bool = True):
    """resnet-c reaches `val_acc >= 0.9` at step 400 and (with `nan`) logs a NaN loss at step
    500, all found by one poll; `end` is how MLflow then says the run ended (None: running)."""
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    run_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "resnet-c", bot.clock.now)
    bot.reply("target val_acc >= 0.9")
    bot.cycle()
    at = bot.clock.advance(minutes=5)
    mlflow_logger.log_metrics(run_id, [("val_acc", 0.95, 400, ms(at))] + [("loss", float("nan"), 500, ms(at))] * nan)
    if end:
        mlflow_logger.log_metrics(run_id, [("val_acc", 0.97, 500, ms(at))])
        mlflow_logger.end_run(run_id, end, ms(at))
    bot.cycle()
    return top_level(bot)


@pytest.mark.mlflow
def test_a_crossing_is_posted_before_the_failure_that_followed_it(bot, mlflow_server, mlflow_logger):
    alert, nan, failed = crossed_then(bot, mlflow_server, mlflow_logger, "FAILED")
    assert "reached its target" in shown(alert) and "step 400" in shown(alert)
    assert "non-finite" in shown(nan) and "failed" in shown(failed)
    assert "Since then the run failed at step 500" in shown(alert)
    # Nothing to review and no later alert can come: only what still means something is offered.
    assert set(buttons(alert)) == {"target_mute", "target_ack"}


@pytest.mark.mlflow
def test_an_alert_for_a_run_that_diverged_since_says_so(bot, mlflow_server, mlflow_logger):
    alert, nan = crossed_then(bot, mlflow_server, mlflow_logger, None)
    assert "Since then the run diverged" in shown(alert) and "non-finite" in shown(nan)
    assert "target_review" not in buttons(alert) and "target_snooze" not in buttons(alert)


@pytest.mark.mlflow
def test_an_ended_run_is_offered_no_snooze_and_acknowledge_leaves_what_still_means_something(
        bot, mlflow_server, mlflow_logger):
    alert, finished = crossed_then(bot, mlflow_server, mlflow_logger, "FINISHED", nan=False)
    assert "finished" in shown(finished)
    assert set(buttons(alert)) == {"target_review", "target_mute", "target_ack"}  # no later alert can come
    acked = press(bot, alert, "target_ack")
    assert set(buttons(acked)) == {"target_review", "target_mute"}


# --- the "is scheduling a results review" note -------------------------------------------


def pushed_alert(bot) -> dict:
    """A posted target alert on a pushed run (resnet-7 reached val_acc >= 0.9)."""
    token = connect_push(bot)
    push(bot, token, {"state": "running", "step": 1, "metrics": {"val_acc": 0.5}})
    assert "Now tracking" in bot.reply("track trainer:resnet-7")
    bot.reply("target val_acc >= 0.9")
    push(bot, token, {"state": "running", "step": 2, "metrics": {"val_acc": 0.95}})
    bot.deliver()
    [alert] = [m for m in top_level(bot) if "reached its target" in shown(m)]
    return alert


def current(bot, message: dict) -> dict:
    [now] = [m for m in bot.fake.messages("C1") if m["ts"] == message["ts"]]
    return now


def test_closing_the_review_form_takes_the_scheduling_note_back(bot):
    alert = pushed_alert(bot)
    edited = press(bot, alert, "target_review")
    assert "<@U1> is scheduling a results review" in shown(edited)
    [modal] = bot.fake.modals()
    assert modal["notify_on_close"] is True

    updates = len(bot.fake.calls("chat.update"))
    assert bot.slack.view_closed("review_modal").status_code == 200
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("chat.update")) > updates)
    after = current(bot, alert)
    assert "scheduling" not in shown(after) and "target_review" in buttons(after)
    assert bot.slack.view_closed("review_modal").status_code == 200  # Slack redelivers: no second edit
    assert bot.deliver() == 0

    edited = press(bot, alert, "target_review")  # the button still works after a close
    assert "<@U1> is scheduling a results review" in shown(edited)


def test_submitting_the_review_form_says_when_the_review_is(bot):
    alert = pushed_alert(bot)
    press(bot, alert, "target_review")
    updates = len(bot.fake.calls("chat.update"))
    values = {"title": {"value": {"type": "plain_text_input", "value": "resnet results"}},
              "when": {"value": {"type": "plain_text_input", "value": "tomorrow 14:00"}},
              "runs": {"value": {"type": "plain_text_input", "value": "trainer:resnet-7"}},
              "policy": {"value": {"type": "static_select", "selected_option": {"value": "warn"}}}}
    resp = bot.slack.view_submission("review_modal", values)
    assert resp.status_code == 200 and not resp.text.strip(), resp.text
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("chat.update")) > updates)
    after = current(bot, alert)
    tomorrow_14 = (bot.clock.now + timedelta(days=1)).replace(hour=14, minute=0, second=0, microsecond=0)
    assert f"Results review scheduled for <!date^{int(tomorrow_14.timestamp())}^" in shown(after)
    assert "by <@U1>" in shown(after) and "is scheduling" not in shown(after)
    assert "target_review" not in buttons(after)  # scheduled: nothing left to schedule


# --- the standup DM prompt says what the member chose --------------------------------------


def standup_prompt(team) -> dict:
    schedule(team)
    tick(team, at(23, 8, 30))
    [prompt] = dms(team, "U2")
    return prompt


def click_in_dm(team, prompt: dict, action_id: str) -> None:
    resp = team.slack.block_action(action_id, standup_buttons(prompt)[action_id], user_id="U2", channel_id="DU2",
                                   message_ts=prompt["ts"])
    assert resp.status_code == 200


def test_answering_the_standup_edits_the_prompt_to_say_so(team):
    prompt = standup_prompt(team)
    answer(team, "U2", ["Trained the resnet"])
    [edited] = dms(team, "U2")  # the same DM, edited: no new message
    assert "You answered the" in shown(edited) and "standup" in shown(edited)
    assert set(standup_buttons(edited)) == {"standup_answer"}  # Skip / I'm away no longer apply
    assert "Edit answer" in str(edited["blocks"])
    answer(team, "U2", ["Trained the resnet, and the vit"])  # the way to change it
    assert "edited your answer" in shown(dms(team, "U2")[0])
    _, thread = head_and_thread(team)
    assert len(thread) == 1 and "and the vit" in shown(thread[0])
    assert prompt["ts"] == dms(team, "U2")[0]["ts"]


def test_going_away_edits_the_prompt_and_still_lets_the_member_answer(team):
    prompt = standup_prompt(team)
    opened = len(team.fake.modals())
    click_in_dm(team, prompt, "standup_away")
    team.fake.wait_for(lambda: len(team.fake.modals()) > opened)
    resp = team.slack.view_submission(
        "standup_away_view", {"until": {"date": {"type": "datepicker", "selected_date": "2026-11-24"}}}, user_id="U2")
    assert resp.status_code == 200 and not resp.text.strip(), resp.text
    assert team.fake.wait_for(lambda: "away until Tue 24 Nov" in shown(dms(team, "U2")[0]))
    [edited] = dms(team, "U2")
    assert set(standup_buttons(edited)) == {"standup_answer"} and "Answer after all" in str(edited["blocks"])


def test_skipping_edits_the_prompt_with_a_way_back(team):
    prompt = standup_prompt(team)
    click_in_dm(team, prompt, "standup_skip")
    assert team.fake.wait_for(lambda: "Skipped the" in shown(dms(team, "U2")[0]))
    [edited] = dms(team, "U2")
    assert set(standup_buttons(edited)) == {"standup_answer"}
    answer(team, "U2", ["Did it after all"])
    assert "You answered the" in shown(dms(team, "U2")[0])


# --- a command that waits on a slow tracker ------------------------------------------------


@pytest.fixture
def silent_tracker():
    """A local TCP server that accepts connections (the kernel completes the handshake) and never
    answers: what a firewalled or hung tracker looks like to an HTTP client."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()  # pending connections are reset: the background check ends at once


def test_a_connect_to_a_silent_tracker_acks_at_once_then_replaces_its_reply(bot, silent_tracker, monkeypatch):
    from bot.listeners import commands

    monkeypatch.setattr(commands, "ACK_BUDGET_SECONDS", 0.05)
    bot.services.settings = dataclasses.replace(bot.services.settings, tracker_check_seconds=1)
    started = time.monotonic()
    resp = bot.command(f"connect mlflow {silent_tracker} as lab")
    assert resp.status_code == 200 and time.monotonic() - started < 2.5
    assert resp.json()["text"] == f":hourglass_flowing_sand: Checking {silent_tracker}…"
    asked_at = bot.slack.last_response_url
    assert bot.fake.wait_for(lambda: bot.fake.responses(asked_at), timeout=5)
    [outcome] = bot.fake.responses(asked_at)
    assert outcome["replace_original"] is True  # the "Checking" reply becomes the answer
    reply = html.unescape(bot.fake.command_reply(asked_at)["text"])
    assert f"No answer from mlflow at {silent_tracker} within 1 s" in reply and "Nothing was saved" in reply
    assert time.monotonic() - started < 5  # bounded by the setting, not by the HTTP retries
    with bot.services.store.tx() as s:
        assert s.scalars(select(Connection)).all() == []
