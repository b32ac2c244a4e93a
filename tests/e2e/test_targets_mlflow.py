"""Target alerts against a real MLflow server: once per crossing, with the evidence, whatever
the number of polls, restarts or lost progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete

from bot.jobs.poll import poll_once
from bot.notify.dispatch import Dispatcher
from bot.server import Server
from bot.services import build_services
from bot.store.models import TargetProgress
from tests.conftest import T0, make_settings, quick_trackers
from tests.e2e.targets_support import (
    CHANNEL,
    alerts,
    buttons,
    ms,
    new_experiment,
    shown,
    start_run,
    thread_of,
    top_level,
)

pytestmark = pytest.mark.mlflow


@pytest.fixture
def connected(bot, mlflow_server):
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    return bot


def log_value(bot, mlflow_logger, run_id: str, key: str, value: float, step: int) -> None:
    at = bot.clock.advance(minutes=1)
    mlflow_logger.log_metrics(run_id, [(key, value, step, ms(at))])


def test_issue_example_alerts_once_at_093_with_chart(connected, mlflow_logger):
    bot = connected
    run_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "resnet-a", T0 - timedelta(hours=2))
    reply = bot.reply("target val_acc >= 0.9 for 2 evals")
    assert "Target *#1* set" in reply, reply

    for step, value in enumerate([0.85, 0.91, 0.88, 0.92], start=1):
        log_value(bot, mlflow_logger, run_id, "val_acc", value, step)
        bot.cycle()
        assert top_level(bot) == [], f"no alert yet after {value}"
    log_value(bot, mlflow_logger, run_id, "val_acc", 0.93, 5)
    bot.cycle()

    [message] = top_level(bot)
    text = shown(message)
    assert "resnet-a" in text and "val_acc" in text and "0.93" in text and "step 5" in text
    assert ">= 0.9 for 2 evals" in text and "2h 5m after the run started" in text
    assert set(buttons(message)) == {"target_review", "target_snooze", "target_mute", "target_ack", "run_stop"}
    [alert] = alerts(bot)
    assert (alert.crossing, alert.step, alert.value, alert.message_key) == (1, 5, 0.93, f"target-alert:{alert.id}")

    # The chart of the whole history, threshold line included, in the alert's thread.
    [chart] = thread_of(bot, message)
    [file] = bot.fake.files()
    assert chart["files"][0]["id"] == file["id"] and file["content"].startswith(b"\x89PNG")
    assert bot.fake.calls("files.completeUploadExternal")[0].params["thread_ts"] == message["ts"]

    for _ in range(3):
        bot.clock.advance(minutes=1)
        bot.cycle()
    assert len(bot.fake.messages(CHANNEL)) == 2 and len(alerts(bot)) == 1


def test_restart_and_lost_progress_add_nothing(connected, mlflow_logger):
    bot = connected
    run_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "resnet-b", T0 - timedelta(hours=1))
    bot.reply("target val_acc >= 0.9 for 2 evals")
    at = bot.clock.advance(minutes=1)
    values = [0.85, 0.91, 0.88, 0.92, 0.93]
    mlflow_logger.log_metrics(run_id, [("val_acc", v, i + 1, ms(at)) for i, v in enumerate(values)])
    bot.cycle()
    assert len(top_level(bot)) == 1 and alerts(bot)[0].value == 0.93

    # A new process on the same database, which has also lost every progress row: it
    # re-evaluates the whole history and finds crossing 1 again; the unique alert key says no.
    bot.server.stop()
    with bot.services.store.tx() as s:
        s.execute(delete(TargetProgress))
    settings = make_settings(bot.fake, bot.services.store.url)
    again = build_services(settings, clock=bot.clock, trackers=quick_trackers)
    restarted = Server(again, port=0, host="127.0.0.1", scheduler=False).start()
    try:
        for _ in range(2):
            bot.clock.advance(minutes=1)
            poll_once(again)
            Dispatcher(again.store, again.clients, bot.clock).drain()
    finally:
        restarted.stop()
        again.store.dispose()
    assert len(top_level(bot)) == 1 and len(alerts(bot)) == 1
    assert len(bot.fake.files()) == 1


def test_metric_logged_without_a_step_still_alerts_once(connected, mlflow_logger):
    # mlflow.log_metric("acc", v) with no step logs every value at step 0; only time tells them apart.
    bot = connected
    run_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "no-steps", T0 - timedelta(minutes=5))
    log_value(bot, mlflow_logger, run_id, "acc", 0.1, 0)
    bot.reply("target acc >= 0.9 for 2 evals")
    bot.cycle()
    for value in (0.5, 0.91):
        log_value(bot, mlflow_logger, run_id, "acc", value, 0)
        bot.cycle()
        assert top_level(bot) == [], f"no alert yet after {value}"
    log_value(bot, mlflow_logger, run_id, "acc", 0.95, 0)
    bot.cycle()
    [message] = top_level(bot)
    assert "no-steps" in message["text"] and "0.95" in shown(message)
    for _ in range(3):
        bot.clock.advance(minutes=1)
        bot.cycle()
    assert len(top_level(bot)) == 1 and len(alerts(bot)) == 1


def test_runs_crossing_in_one_poll_share_one_message(connected, mlflow_logger):
    bot = connected
    exp_id = new_experiment(mlflow_logger)
    runs = [start_run(bot, mlflow_logger, exp_id, f"sweep-{i}", T0 - timedelta(minutes=30)) for i in range(3)]
    bot.reply("target loss <= 0.2")
    at = bot.clock.advance(minutes=1)
    for run_id, loss in zip(runs, [0.15, 0.1, 0.5], strict=True):
        mlflow_logger.log_metrics(run_id, [("loss", loss, 1, ms(at))])
    bot.cycle()

    [message] = top_level(bot)
    text = shown(message)
    assert "2 runs reached their targets" in text
    assert "sweep-0" in text and "sweep-1" in text and "sweep-2" not in text
    assert len(thread_of(bot, message)) == 2  # one chart per run
    # The four alert buttons and Stop run, in one actions row per run.
    assert len(buttons(message)) == 5 and len([b for b in message["blocks"] if b["type"] == "actions"]) == 2


def test_scoped_target_watches_only_its_run(connected, mlflow_logger):
    bot = connected
    exp_id = new_experiment(mlflow_logger)
    chosen = start_run(bot, mlflow_logger, exp_id, "chosen", T0)
    other = start_run(bot, mlflow_logger, exp_id, "other", T0)
    assert "Target *#1* set" in bot.reply(f"target val_acc > 0.5 on mlflow:{chosen}")
    at = bot.clock.advance(minutes=1)
    for run_id in (chosen, other):
        mlflow_logger.log_metrics(run_id, [("val_acc", 0.7, 1, ms(at))])
    bot.cycle()
    [message] = top_level(bot)
    assert "chosen" in shown(message) and "other" not in shown(message)


def test_nan_loss_alerts_once(connected, mlflow_logger):
    bot = connected
    run_id = start_run(bot, mlflow_logger, new_experiment(mlflow_logger), "diverged", T0)
    log_value(bot, mlflow_logger, run_id, "loss", float("nan"), 1)
    bot.cycle()
    log_value(bot, mlflow_logger, run_id, "loss", float("inf"), 2)
    bot.cycle()
    bot.cycle()
    [message] = top_level(bot)
    assert "diverged" in shown(message) and "non-finite `loss`" in shown(message)
