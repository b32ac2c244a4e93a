"""Stop a run from Slack (issue 14): the Stop run button on a target alert, a diverged-run alert
and in `/ready runs`, and `/ready stop`. Pushed runs hear it in the answer to their next push;
the real MLflow server marks the run KILLED and tags it; W&B (the fake) receives the SDK's
stopRun mutation. Only whoever tracked the run or a workspace admin may stop it; one stop per
run, however many clicks. Signed requests through the real Bolt app, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from bot.notify.blocks import STOP_RUN
from bot.store.models import Run, StopRequest
from tests.conftest import T0
from tests.e2e.targets_support import CHANNEL, buttons, ms, new_experiment, shown, start_run, top_level
from tests.fakes.wandb_server import WandbServer


def say(bot, text: str, user: str = "U1") -> str:
    return html.unescape(bot.reply(text, user_id=user, channel_id=CHANNEL))


def push(bot, token: str, **body) -> dict:
    resp = requests.post(f"{bot.server.url}/api/v1/runs/resnet-7", json={"state": "running", **body},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture
def pushed(bot):
    """U1 (alice) tracks a pushed run; U2 (bob) is a member, U3 (erin) a workspace admin."""
    bot.fake.add_user("U2", "bob")
    bot.fake.add_user("U3", "erin", is_admin=True)
    bot.fake.add_channel(CHANNEL, "general", ["U0BOT", "U1", "U2", "U3"])
    token = re.search(r"`(rbp_[^`]+)`", say(bot, "connect push as trainer"))[1]
    push(bot, token, step=10, total_steps=1000, metrics={"loss": 0.9})
    assert "Now tracking" in say(bot, "track trainer:resnet-7")
    return bot, token


def run_id(bot, ref: str = "resnet-7") -> int:
    with bot.services.store.tx() as s:
        return s.scalar(select(Run.id).where(Run.ref == ref))


def stop_requests(bot) -> list[StopRequest]:
    with bot.services.store.tx() as s:
        return list(s.scalars(select(StopRequest)))


def runs_buttons(bot, user: str = "U1") -> list[dict]:
    """The Stop buttons of `/ready runs` as `user` sees them."""
    resp = bot.command("runs", user_id=user, channel_id=CHANNEL)
    blocks = resp.json().get("blocks") or []
    return [b["accessory"] for b in blocks if b.get("accessory", {}).get("action_id") == STOP_RUN]


def click_stop(bot, value: str, user: str = "U1", message_ts: str | None = None, clicks: int = 1) -> list[str]:
    """Click Stop (confirmed) `clicks` times and return the ephemeral notices these clicks got."""
    before = len(notices(bot, user))
    for _ in range(clicks):
        bot.slack.block_action(STOP_RUN, value, user_id=user, channel_id=CHANNEL, message_ts=message_ts)
    assert bot.fake.wait_for(lambda: len(notices(bot, user)) >= before + clicks)
    return notices(bot, user)[before:]


def edited(bot, ts: str) -> dict:
    """The message `ts` once its Stop button is gone (the click's edit may still be on its way)."""
    bot.deliver()
    now = lambda: next(m for m in top_level(bot) if m["ts"] == ts)  # noqa: E731
    bot.fake.wait_for(lambda: STOP_RUN not in buttons(now()), timeout=5)
    return now()


def notices(bot, user: str) -> list[str]:
    return [html.unescape(e["text"]) for e in bot.fake.ephemerals(CHANNEL) if e["user"] == user]


def stop_messages(bot, expected: int = 1) -> list[str]:
    """The channel's "asked to stop run" messages, once `expected` are there (the click's own
    immediate delivery may still be posting when the test looks)."""
    bot.deliver()
    said = lambda: [shown(m) for m in top_level(bot) if "asked to stop run" in shown(m)]  # noqa: E731
    bot.fake.wait_for(lambda: len(said()) >= expected, timeout=5)
    return said()


def said_after_poll(bot, text: str) -> list[str]:
    """The channel's messages saying `text` once one is there: the click's immediate delivery
    (bot/listeners/run_actions.py) may still be running and claim the poll's message before
    bot.deliver() does, so it lands from that thread a moment after the cycle returns."""
    said = lambda: [shown(m) for m in top_level(bot) if text in shown(m)]  # noqa: E731
    bot.fake.wait_for(said, timeout=5)
    return said()


def test_runs_offers_stop_and_the_next_push_answer_carries_the_stop_flag(pushed):
    bot, token = pushed
    [button] = runs_buttons(bot)
    assert button["value"] == str(run_id(bot)) and button["text"]["text"] == "Stop run"
    assert "next push" in button["confirm"]["text"]["text"] and button["confirm"]["confirm"]["text"] == "Stop run"
    assert "stop" not in push(bot, token, step=11)

    [notice] = click_stop(bot, button["value"])
    assert notice.startswith(":octagonal_sign: Stop of run `trainer:resnet-7` sent.")

    answer = push(bot, token, step=12, metrics={"loss": 0.8})
    assert answer["stop"] is True and answer["stop_requested_by"] == "alice"
    assert answer["stop_reason"] == "asked from Slack" and answer["state"] == "running"
    assert push(bot, token, step=13)["stop"] is True  # every push after, until the loop stops
    [said] = stop_messages(bot)
    assert "<@U1> asked to stop run *resnet-7*" in said and "answer to its next push" in said
    assert runs_buttons(bot) == []  # asked already: /ready runs says so instead
    assert "stop requested by <@U1>" in say(bot, "runs")
    [row] = stop_requests(bot)
    assert (row.requested_by, row.requested_by_name, row.status, row.requested_at) == ("U1", "alice", "sent", T0)


def test_a_member_who_did_not_track_the_run_is_told_who_can_and_nothing_is_sent(pushed):
    bot, token = pushed
    [button] = runs_buttons(bot, user="U2")
    [notice] = click_stop(bot, button["value"], user="U2")
    assert notice == (":warning: Only <@U1> who tracked or owns it, or a workspace admin, can stop run "
                      "`trainer:resnet-7`. Nothing was changed.")
    assert stop_requests(bot) == [] and "stop" not in push(bot, token, step=11)
    assert stop_messages(bot, expected=0) == []


def test_double_clicks_and_two_people_send_one_stop(pushed):
    bot, token = pushed
    value = str(run_id(bot))
    said = click_stop(bot, value, clicks=2)  # a double click
    [by_admin] = click_stop(bot, value, user="U3")
    assert sum(n.startswith(":octagonal_sign: Stop of run `trainer:resnet-7` sent.") for n in said) == 1
    assert any(n.startswith(":octagonal_sign: <@U1> already asked to stop run `trainer:resnet-7`") for n in said)
    assert by_admin.startswith(":octagonal_sign: <@U1> already asked to stop run")
    assert len(stop_requests(bot)) == 1 and len(stop_messages(bot)) == 1
    assert push(bot, token, step=11)["stop_requested_by"] == "alice"


def test_a_workspace_admin_may_stop_and_the_command_asks_first(pushed):
    bot, token = pushed
    resp = bot.command('stop trainer:resnet-7 "plateaued at 0.87"', user_id="U3", channel_id=CHANNEL)
    body = resp.json()
    assert "Stop run *resnet-7*" in html.unescape(body["text"]) and stop_requests(bot) == []  # only asked
    [row] = [b for b in body["blocks"] if b["type"] == "actions"]
    [element] = row["elements"]
    assert element["action_id"] == STOP_RUN and element["value"] == str(run_id(bot)) and "confirm" in element
    bot.slack.block_action(STOP_RUN, element["value"], user_id="U3", channel_id=CHANNEL, block_id=row["block_id"])
    bot.fake.wait_for(lambda: stop_requests(bot))
    answer = push(bot, token, step=11)
    assert (answer["stop_requested_by"], answer["stop_reason"]) == ("erin", "plateaued at 0.87")
    assert "This channel is not tracking run `trainer:nope`" in say(bot, "stop trainer:nope")


def test_the_diverged_alert_offers_stop_and_shows_who_stopped_it(pushed):
    bot, token = pushed
    push(bot, token, step=11, metrics={"loss": "NaN"})
    bot.deliver()
    [alert] = [m for m in top_level(bot) if "non-finite" in shown(m)]
    assert buttons(alert) == {STOP_RUN: str(run_id(bot))}
    click_stop(bot, str(run_id(bot)), message_ts=alert["ts"])
    assert push(bot, token, step=12)["stop_reason"] == "diverged (a non-finite value)"
    alert = edited(bot, alert["ts"])
    assert buttons(alert) == {} and "Stop requested by <@U1>" in shown(alert)


def test_comet_runs_offer_no_stop_and_say_why(bot):
    from bot.handlers.run_stop import stop as stop_run
    from bot.sandbox.world import TEAM_ID
    from bot.store.models import Connection, Watch, WatchRun

    with bot.services.store.tx() as s:
        conn = Connection(team_id=TEAM_ID, name="cm", kind="comet", url="https://comet.example", created_at=T0)
        s.add(conn)
        s.flush()
        run = Run(connection_id=conn.id, ref="ws/proj/abc", state="running", created_at=T0, updated_at=T0)
        watch = Watch(team_id=TEAM_ID, channel_id=CHANNEL, connection_id=conn.id, ref="ws/proj/abc",
                      created_by="U1", created_at=T0)
        s.add_all([run, watch])
        s.flush()
        s.add(WatchRun(watch_id=watch.id, run_id=run.id))
        rid = run.id
    assert runs_buttons(bot) == []
    outcome = stop_run(bot.services, rid, "U1", TEAM_ID, CHANNEL)
    assert "cannot be stopped from Slack" in outcome.notice and "Comet" in outcome.notice
    assert "cannot be stopped from Slack" in say(bot, "stop cm:ws/proj/abc")
    assert stop_requests(bot) == []


@pytest.mark.mlflow
def test_stop_on_a_target_alert_kills_the_mlflow_run_and_tags_it(bot, mlflow_server, mlflow_logger):
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    mlflow_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "resnet-a", T0 - timedelta(hours=1))
    bot.reply("target val_acc >= 0.9")
    mlflow_logger.log_metrics(mlflow_id, [("val_acc", 0.93, 5, ms(bot.clock.advance(minutes=1)))])
    bot.cycle()
    [alert] = top_level(bot)
    value = buttons(alert)[STOP_RUN]
    assert value == str(run_id(bot, mlflow_id))
    [stop_button] = [e for b in alert["blocks"] if b["type"] == "actions" for e in b["elements"]
                     if e["action_id"] == STOP_RUN]
    assert "cannot stop the training process" in stop_button["confirm"]["text"]["text"]

    [notice] = click_stop(bot, value, message_ts=alert["ts"])
    assert "MLflow marks the run KILLED" in notice

    run = mlflow_logger.session.get(f"{mlflow_server}/api/2.0/mlflow/runs/get", params={"run_id": mlflow_id},
                                    timeout=10).json()["run"]
    assert run["info"]["status"] == "KILLED" and run["info"]["end_time"] == ms(bot.clock.now)
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["readybot.stop_requested"] == "true" and tags["readybot.stop_requested_by"] == "alice"
    assert tags["readybot.stop_reason"] == "reached its target"
    [said] = stop_messages(bot)
    assert "cannot stop the training process" in said and "reached its target" in said
    alert = edited(bot, alert["ts"])
    assert STOP_RUN not in buttons(alert) and "Stop requested by <@U1>" in shown(alert)
    bot.cycle()  # the next poll sees the run killed, and says so once
    assert len(said_after_poll(bot, "was killed")) == 1


def test_stop_on_wandb_sends_the_sdks_mutation_and_the_run_turns_killed(bot):
    with WandbServer() as wandb:
        wandb.add_run("team", "vision", "ab12cd34", display_name="vit-b", history=[{"loss": 1.0}])
        reply = bot.reply(f"connect wandb {wandb.url} key={wandb.api_key}")
        assert "Connected" in reply, reply
        assert "Now tracking" in bot.reply("track wandb:team/vision/ab12cd34")
        [button] = runs_buttons(bot)
        assert "next heartbeat" in button["confirm"]["text"]["text"]
        click_stop(bot, button["value"])
        [mutation] = [r.body for r in wandb.requests if "stopRun" in r.body["query"]]
        assert mutation["variables"] == {"id": "UnVuOnYxOmFiMTJjZDM0OnZpc2lvbjp0ZWFt"}  # Run:v1:ab12cd34:vision:team
        assert "mutation stopRun($id: ID!)" in mutation["query"]
        bot.cycle()
        assert len(said_after_poll(bot, "was killed")) == 1
        assert len(wandb.stops) == 1


def test_a_stop_the_tracker_refuses_changes_nothing_and_can_be_tried_again(bot):
    with WandbServer() as wandb:
        wandb.add_run("team", "vision", "ab12cd34", history=[{"loss": 1.0}])
        assert "Connected" in bot.reply(f"connect wandb {wandb.url} key={wandb.api_key}")
        assert "Now tracking" in bot.reply("track wandb:team/vision/ab12cd34")
        [button] = runs_buttons(bot)
        wandb.runs[("team", "vision")][0].name = "renamed"  # W&B no longer knows the id we send
        [notice] = click_stop(bot, button["value"])
        assert notice.startswith(":warning: wandb did not take the stop of run `wandb:team/vision/ab12cd34`")
        assert "run not found" in notice and notice.endswith("Nothing was changed; try again.")
        assert stop_requests(bot) == [] and stop_messages(bot, expected=0) == []
        assert runs_buttons(bot) == [button]  # still offered
        wandb.runs[("team", "vision")][0].name = "ab12cd34"
        [notice] = click_stop(bot, button["value"])
        assert "sent" in notice and len(wandb.stops) == 2 and len(stop_requests(bot)) == 1
