"""Steps past 2^31 (issue 12 item 3): MLflow logs steps as 64-bit integers
(https://mlflow.org/docs/latest/rest-api.html#metric) and PostgreSQL's INTEGER stopped every
poll at 2^31 - 1. A real MLflow run at step 3,000,000,000 and a pushed step of 2^40 go through
the bot on both databases: the run, its target's progress, the alert and pushed points."""

from __future__ import annotations

import html
import re

import pytest
import requests
from sqlalchemy import select

from bot.store.models import Alert, RunPoint, TargetProgress
from tests.conftest import T0
from tests.e2e.targets_support import ms, new_experiment, top_level

pytestmark = pytest.mark.mlflow

STEP = 3_000_000_000


def test_an_mlflow_step_of_three_billion_is_polled_and_alerted(bot, mlflow_server, mlflow_logger):
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    run_id = mlflow_logger.create_run(new_experiment(mlflow_logger), start_ms=ms(T0), name="long-haul")
    mlflow_logger.log_metrics(run_id, [("loss", 1.0, 1, ms(T0))])
    assert "Now tracking" in bot.reply(f"track mlflow:{run_id} steps 6_000_000_000")
    bot.reply("target val_acc >= 0.9")
    at = bot.clock.advance(minutes=5)
    mlflow_logger.log_metrics(run_id, [("loss", 0.2, STEP, ms(at)), ("val_acc", 0.95, STEP, ms(at))])
    bot.cycle()
    line = html.unescape(bot.reply("runs"))
    assert f"step {STEP}/6000000000 (50%)" in line and "not answering" not in line, line
    assert len(top_level(bot)) == 1  # the alert
    with bot.services.store.tx() as s:
        assert s.scalar(select(Alert.step)) == STEP
        assert s.scalar(select(TargetProgress.last_step)) == STEP


def test_a_pushed_step_of_two_to_the_forty(bot):
    token = re.search(r"`(rbp_[^`]+)`", bot.reply("connect push as trainer"))[1]
    body = {"state": "running", "step": 2**40, "total_steps": 2**41, "metrics": {"loss": 0.5}}
    resp = requests.post(f"{bot.server.url}/api/v1/runs/big", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.ok, resp.text
    assert "Now tracking" in bot.reply("track trainer:big")
    bot.clock.advance(minutes=1)
    bot.cycle()
    assert f"step {2**40}/{2**41} (50%)" in bot.reply("runs")
    with bot.services.store.tx() as s:
        assert s.scalar(select(RunPoint.step)) == 2**40


def test_steps_past_the_columns_range_are_refused_with_a_clear_reply(bot, mlflow_server):
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    reply = html.unescape(bot.reply("track mlflow:abc steps 9223372036854775808"))
    assert "is not a step count" in reply and "9,223,372,036,854,775,807" in reply
    assert "No runs are tracked" in bot.reply("runs")


