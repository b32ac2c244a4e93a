"""Targets on runs that push their updates: each pushed value is one new evaluation at its step."""

from __future__ import annotations

import re
from datetime import timedelta

import requests
from sqlalchemy import select

from bot.jobs.poll import tracker_for_connection
from bot.store import points
from bot.store.models import Connection, Outbox
from integrations.base import MetricPoint
from tests.conftest import T0
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


def test_the_chart_of_a_pushed_crossing_draws_every_pushed_point(bot):
    token = connect_push(bot)
    bot.reply("track trainer:my-run")
    bot.reply("target val_acc >= 0.9")
    values = [0.5, 0.62, 0.71, 0.8, 0.86, 0.93]
    for step, value in enumerate(values, start=1):
        push(bot, token, step, val_acc=value, loss=1 - value)
        bot.clock.advance(minutes=5)
    bot.deliver()
    [message] = top_level(bot)
    assert "0.93" in shown(message) and "step 6" in shown(message)
    [chart] = outbox_rows(bot, "target_chart")
    assert chart.status == "sent"
    assert chart.payload["points"] == [[step, value] for step, value in enumerate(values, start=1)]
    [png] = bot.fake.files()
    assert png["content"].startswith(b"\x89PNG")
    # The push connection's metric_history answers from the same kept points.
    tracker = push_tracker(bot)
    assert tracker.metric_history(["my-run"], "val_acc", 5) == {"my-run": [
        MetricPoint(5, 0.86, T0 + timedelta(minutes=20)), MetricPoint(6, 0.93, T0 + timedelta(minutes=25))]}
    assert tracker.metric_history(["other-run"], "val_acc") == {}


def test_pushed_history_keeps_the_newest_points_per_metric(bot, monkeypatch):
    monkeypatch.setattr(points, "MAX_POINTS", 5)
    token = connect_push(bot)
    bot.reply("track trainer:my-run")
    bot.reply("target val_acc >= 0.9")
    for step in range(1, 9):
        push(bot, token, step, val_acc=0.5 + step / 100, loss=1.0 / step)
    push(bot, token, 9, val_acc=0.95, loss="NaN")  # a non-finite value is not kept
    bot.deliver()
    history = push_tracker(bot).metric_history(["my-run"], "val_acc")["my-run"]
    assert [p.step for p in history] == [5, 6, 7, 8, 9]
    assert [p.step for p in push_tracker(bot).metric_history(["my-run"], "loss")["my-run"]] == [4, 5, 6, 7, 8]
    [chart] = outbox_rows(bot, "target_chart")
    assert [step for step, _ in chart.payload["points"]] == [5, 6, 7, 8, 9]


def outbox_rows(bot, template: str) -> list[Outbox]:
    with bot.services.store.tx() as s:
        return list(s.scalars(select(Outbox).where(Outbox.template == template).order_by(Outbox.id)))


def push_tracker(bot):  # noqa: ANN201
    with bot.services.store.tx() as s:
        conn = s.scalar(select(Connection).where(Connection.kind == "push"))
    return tracker_for_connection(bot.services, conn)
