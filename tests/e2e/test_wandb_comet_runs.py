"""W&B and Comet through the bot, against local fakes of their documented APIs
(tests/fakes): connect with a key, track a run, hear when it finishes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import T0
from tests.fakes.comet_server import CometServer
from tests.fakes.wandb_server import WandbServer


@pytest.fixture
def wandb():
    with WandbServer() as server:
        yield server


@pytest.fixture
def comet():
    with CometServer() as server:
        yield server


def test_wandb_run_finishes_once_with_its_metrics(bot, wandb):
    run = wandb.add_run("acme", "vision", "ab12cd34", history=[{"val_acc": 0.5}, {"val_acc": 0.7}],
                        created_at=T0 - timedelta(minutes=30), heartbeat_at=T0)
    reply = bot.reply(f"connect wandb {wandb.url} key={wandb.api_key}")
    assert "Connected *wandb*" in reply and wandb.api_key not in reply
    assert "Now tracking" in bot.reply("track wandb:acme/vision/ab12cd34")
    bot.cycle()
    run.state = "finished"
    run.summary["val_acc"] = 0.93
    bot.clock.advance(minutes=2)
    bot.cycle()
    bot.cycle()
    finished = [m for m in bot.fake.messages("C1") if "finished" in m["text"]]
    assert len(finished) == 1 and "0.93" in str(finished[0]["blocks"])


def test_wandb_wrong_key_is_refused_and_nothing_saved(bot, wandb):
    reply = bot.reply(f"connect wandb {wandb.url} key=not-the-key")
    assert "Could not reach" in reply and "not-the-key" not in reply
    assert "No connection named `wandb`" in bot.reply("track wandb:acme/vision/x")


def test_comet_experiment_that_crashes_is_reported_failed(bot, comet):
    key = comet.add_experiment("acme", "vision", running=True, started_at=T0 - timedelta(minutes=5),
                               metrics={"loss": [(1, 0.9, T0), (2, 0.7, T0)]})
    assert "Connected *comet*" in bot.reply(f"connect comet {comet.url} key={comet.api_key}")
    assert "Now tracking" in bot.reply(f"track comet:{key}")
    bot.cycle()
    comet.experiments[key].running = False
    comet.experiments[key].crashed = True
    bot.clock.advance(minutes=1)
    bot.cycle()
    assert [m for m in bot.fake.messages("C1") if "failed" in m["text"]]
