"""Runs that push their updates over HTTP feed the same pipeline as polled runs."""

from __future__ import annotations

import html
import re

import requests


def connect_push(bot) -> str:
    reply = bot.reply("connect push as trainer")
    return re.search(r"`(rbp_[^`]+)`", reply)[1]


def push(bot, token: str | None, body, ref: str = "resnet-7") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{bot.server.url}/api/v1/runs/{ref}", json=body, headers=headers, timeout=10)


def channel_texts(bot) -> list[str]:
    return [html.unescape(m.get("text") or "") for m in bot.fake.messages("C1")]


def test_pushed_run_lifecycle_is_announced_once_each(bot):
    token = connect_push(bot)
    assert push(bot, token, {"state": "running", "step": 10, "total_steps": 100, "metrics": {"loss": 0.5}}).ok
    assert "Now tracking" in bot.reply("track trainer:resnet-7")
    assert "step 10/100" in bot.reply("runs")

    bot.clock.advance(minutes=45)  # silence longer than the stall time
    bot.cycle()
    bot.cycle()
    assert [t for t in channel_texts(bot) if "stalled" in t and "resnet-7" in t]
    assert len(channel_texts(bot)) == 1

    assert push(bot, token, {"state": "running", "step": 20, "metrics": {"loss": 0.4}}).ok
    bot.deliver()
    assert len([t for t in channel_texts(bot) if "moving again" in t]) == 1

    done = {"state": "finished", "step": 100, "metrics": {"loss": 0.0123, "val_acc": 0.951}}
    assert push(bot, token, done).json()["state"] == "finished"
    assert push(bot, token, done).ok  # a script that reports twice
    bot.cycle()
    finished = [m for m in bot.fake.messages("C1") if "finished" in (m.get("text") or "")]
    assert len(finished) == 1
    assert "0.951" in str(finished[0]["blocks"]) and "0.0123" in str(finished[0]["blocks"])


def test_push_rejects_bad_tokens_and_bad_fields_without_changes(bot):
    token = connect_push(bot)
    assert push(bot, None, {"state": "running"}).status_code == 401
    assert push(bot, "rbp_wrong", {"state": "running"}).status_code == 401
    bad = push(bot, token, {"state": "exploded"})
    assert bad.status_code == 400 and "state must be one of" in bad.json()["error"]
    bad = push(bot, token, {"metrics": {"loss": "a lot"}})
    assert bad.status_code == 400 and "loss" in bad.json()["error"]
    not_json = requests.post(f"{bot.server.url}/api/v1/runs/x", data="{nope",
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert not_json.status_code == 400
    assert "No runs are tracked" in bot.reply("runs")
    assert bot.reply("track trainer:resnet-7")  # tracking works; the run was never created by bad pushes
    assert "queued" in bot.reply("runs")


def test_push_token_is_shown_once_and_never_stored_plainly(bot):
    token = connect_push(bot)
    from sqlalchemy import select

    from bot.store.models import Connection

    with bot.services.store.tx() as s:
        conn = s.scalar(select(Connection))
        assert token not in (conn.push_token_hash or "") and conn.secret_sealed is None


def test_unicode_and_percent_refs_arrive_as_written(bot):
    token = connect_push(bot)
    resp = push(bot, token, {"state": "running"}, ref="r%C3%A9snet-%F0%9F%9A%80")  # résnet-🚀, as curl sends it
    assert resp.status_code == 200 and resp.json()["run"] == "résnet-🚀"
    assert push(bot, token, {"state": "running"}, ref="sweep%2541").json()["run"] == "sweep%41"
    assert "Now tracking" in bot.reply("track trainer:résnet-🚀")


def test_control_characters_are_refused_not_stored(bot):
    token = connect_push(bot)
    assert push(bot, token, {"state": "running"}, ref="bad%00ref").status_code == 400
    resp = push(bot, token, {"state": "running", "name": "nul\u0000name", "params": {"a\u0000": "b\u0000"}})
    assert resp.status_code == 200
    assert "nulname" in bot.reply("track trainer:resnet-7") + bot.reply("runs")


def test_connection_names_are_matched_ignoring_case(bot):
    connect_push(bot)
    assert "Now tracking" in bot.reply("track Trainer:resnet-7")
    assert "already exists" in bot.reply("connect push as TRAINER")


def test_a_push_updates_only_what_it_carries(bot):
    token = connect_push(bot)
    assert push(bot, token, {"state": "running", "step": 40, "total_steps": 100,
                             "metrics": {"loss": 0.3, "val_acc": 0.88}}).ok
    bot.reply("track trainer:resnet-7")
    assert push(bot, token, {"step": 50, "metrics": {"loss": 0.25}}).ok  # val_acc not sent this time
    assert "step 50/100" in bot.reply("runs") and "val_acc=0.88" in bot.reply("runs")
    assert push(bot, token, {"state": "finished"}).ok  # the usual last call carries nothing else
    bot.deliver()
    finished = [m for m in bot.fake.messages("C1") if "finished" in m["text"]]
    assert len(finished) == 1
    body = str(finished[0]["blocks"])
    assert "0.25" in body and "0.88" in body and "50/100" in body


def test_a_huge_owner_is_kept_cut_not_answered_with_500(bot):
    token = connect_push(bot)
    bot.reply("track trainer:resnet-7")
    resp = push(bot, token, {"state": "running", "owner": "o" * 450})
    assert resp.status_code == 200, resp.text
    assert push(bot, token, {"state": "finished"}).ok
    bot.deliver()
    finished = [m for m in bot.fake.messages("C1") if "finished" in m["text"]]
    assert len(finished) == 1
    assert "o" * 200 in str(finished[0]["blocks"]) and "o" * 201 not in str(finished[0]["blocks"])


def test_an_owner_with_control_characters_reaches_the_channel_shown_safely(bot):
    token = connect_push(bot)
    bot.reply("track trainer:resnet-7")
    owner = "ali\x01ce\x1f \x07<!channel>\x7f"
    assert push(bot, token, {"state": "running", "owner": owner}).ok
    assert push(bot, token, {"state": "finished"}).ok
    bot.deliver()
    finished = [m for m in bot.fake.messages("C1") if "finished" in m["text"]]
    assert len(finished) == 1
    shown = str(finished[0]["blocks"]) + finished[0]["text"]
    assert "alice" in shown and "<!channel>" not in shown
    assert not any(c in shown for c in "\x01\x1f\x07\x7f")
