"""Targets on runs that push their updates: each pushed value is one new evaluation at its step."""

from __future__ import annotations

import re

import requests

from tests.e2e.targets_support import alerts, shown, thread_of, top_level


def connect_push(bot) -> str:
    reply = bot.reply("connect push as trainer")
    return re.search(r"`(rbp_[^`]+)`", reply)[1]


def push(bot, token: str, step: int | None, **metrics: float | str) -> None:
    body = {"state": "running", "metrics": metrics}
    if step is not None:
        body["step"] = step
    resp = requests.post(f"{bot.server.url}/api/v1/runs/my-run", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200, resp.text


def test_pushed_values_reach_the_target_once(bot):
    token = connect_push(bot)
    assert "Now tracking" in bot.reply("track trainer:my-run")
    bot.reply("target val_acc >= 0.9 for 2 evals")
    for step, value in enumerate([0.85, 0.91, 0.88, 0.92], start=1):
        push(bot, token, step, val_acc=value)
        push(bot, token, step, val_acc=value)  # a client retry repeats the step: not a new value
    push(bot, token, None, val_acc=0.95)  # no step: cannot be ordered, does not count
    bot.deliver()
    assert top_level(bot) == []

    push(bot, token, 5, val_acc=0.93)
    push(bot, token, 6, val_acc=0.94)
    bot.deliver()
    [message] = top_level(bot)
    assert "0.93" in shown(message) and "step 5" in shown(message)
    assert len(thread_of(bot, message)) == 1  # the chart
    assert [(a.step, a.value) for a in alerts(bot)] == [(5, 0.93)]


def test_pushed_nan_loss_alerts_once(bot):
    token = connect_push(bot)
    bot.reply("track trainer:my-run")
    push(bot, token, 1, loss=0.5)
    push(bot, token, 2, loss="NaN")  # JSON carries NaN as a string
    push(bot, token, 3, loss="NaN")
    bot.deliver()
    [message] = top_level(bot)
    assert "non-finite `loss`" in shown(message) and "nan" in shown(message)
