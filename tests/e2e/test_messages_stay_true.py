"""Messages that stay true (issue 11): what the channel reads must not say something that is no
longer so. Signed requests through the real Bolt app, the outbox and the fake Slack."""

from __future__ import annotations

import html
import re

import requests

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
