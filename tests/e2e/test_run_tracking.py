"""Run tracking end to end: signed /ready commands, a real MLflow server, the outbox and the
fake Slack. The bot's clock is moved by the test; MLflow timestamps are set to match it."""

from __future__ import annotations

import html
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.server import Server
from bot.services import build_services
from bot.store.models import Connection, Run
from tests.conftest import T0, make_settings, quick_trackers
from tests.fault_proxy import FaultProxy
from tests.slack_text import shown

pytestmark = pytest.mark.mlflow

CHANNEL = "C1"


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def texts(bot, channel: str = CHANNEL) -> list[str]:
    return [html.unescape(m.get("text") or "") for m in bot.fake.messages(channel)]


@pytest.fixture
def experiment(mlflow_logger) -> tuple[str, str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    return name, mlflow_logger.create_experiment(name)


@pytest.fixture
def connected(bot, mlflow_server):
    reply = bot.reply(f"connect mlflow {mlflow_server}")
    assert "Connected" in reply, reply
    return bot


def start_run(mlflow_logger, exp_id: str, name: str, at: datetime, **kw) -> str:
    run_id = mlflow_logger.create_run(exp_id, start_ms=ms(at), name=name, **kw)
    mlflow_logger.log_metrics(run_id, [("loss", 0.9, 1, ms(at)), ("val_acc", 0.5, 1, ms(at))])
    return run_id


def test_finished_run_is_announced_once_with_final_metrics(connected, mlflow_logger, experiment):
    bot = connected
    exp_name, exp_id = experiment
    run_id = start_run(mlflow_logger, exp_id, "resnet-a", T0 - timedelta(minutes=10))
    assert "Now tracking" in bot.reply(f"track mlflow:{run_id}")
    assert "Now tracking" in bot.reply(f"track mlflow:experiment/{exp_name}")
    bot.cycle()
    assert texts(bot) == []  # nothing happened yet: no noise

    end = bot.clock.advance(minutes=5)
    mlflow_logger.log_metrics(run_id, [("loss", 0.123, 2, ms(end)), ("val_acc", 0.9345, 2, ms(end))])
    mlflow_logger.end_run(run_id, "FINISHED", ms(end))
    bot.clock.advance(minutes=1)
    bot.cycle()
    messages = bot.fake.messages(CHANNEL)
    assert len(messages) == 1, texts(bot)
    body = shown(messages[0])
    assert "resnet-a" in messages[0]["text"] and "finished" in messages[0]["text"]
    assert "0.123" in body and "0.9345" in body

    for _ in range(3):
        bot.clock.advance(minutes=1)
        bot.cycle()
    assert len(bot.fake.messages(CHANNEL)) == 1

    # A restart: a new process on the same database adds nothing.
    bot.server.stop()
    settings = make_settings(bot.fake, bot.services.store.url)
    again = build_services(settings, clock=bot.clock, trackers=quick_trackers)
    restarted = Server(again, port=0, host="127.0.0.1", scheduler=False).start()
    try:
        from bot.jobs.poll import poll_once
        from bot.notify.dispatch import Dispatcher

        poll_once(again)
        Dispatcher(again.store, again.clients, bot.clock).drain()
    finally:
        restarted.stop()
        again.store.dispose()
    assert len(bot.fake.messages(CHANNEL)) == 1


def test_experiment_watch_picks_up_new_runs_and_reports_failures(connected, mlflow_logger, experiment):
    bot = connected
    exp_name, exp_id = experiment
    assert "0 runs so far" in bot.reply(f"track mlflow:experiment/{exp_name}")
    run_id = start_run(mlflow_logger, exp_id, "late-run", T0 + timedelta(minutes=1))
    bot.clock.advance(minutes=2)
    bot.cycle()
    assert "late-run" in bot.reply("runs")

    bot.clock.advance(minutes=1)
    mlflow_logger.end_run(run_id, "FAILED", ms(bot.clock.now))
    bot.cycle()
    assert [t for t in texts(bot) if "failed" in t and "late-run" in t], texts(bot)


def test_experiment_run_that_ends_between_polls_is_announced_once(connected, mlflow_logger, experiment):
    # A short run (or one that fails at once) starts and ends between two polls: the watch first
    # sees it already ended. The channel never saw it run, so its end must still be reported.
    bot = connected
    exp_name, exp_id = experiment
    assert "0 runs so far" in bot.reply(f"track mlflow:experiment/{exp_name}")
    bot.cycle()
    quick = start_run(mlflow_logger, exp_id, "quick-one", T0 + timedelta(seconds=10))
    crash = start_run(mlflow_logger, exp_id, "crash-one", T0 + timedelta(seconds=20))
    mlflow_logger.end_run(quick, "FINISHED", ms(T0 + timedelta(seconds=30)))
    mlflow_logger.end_run(crash, "FAILED", ms(T0 + timedelta(seconds=40)))
    for _ in range(3):
        bot.clock.advance(minutes=1)
        bot.cycle()
    shown = texts(bot)
    assert len([t for t in shown if "quick-one" in t and "finished" in t]) == 1, shown
    assert len([t for t in shown if "crash-one" in t and "failed" in t]) == 1, shown
    assert len(shown) == 2, shown


def test_runs_present_when_an_experiment_is_tracked_are_not_announced(connected, mlflow_logger, experiment):
    bot = connected
    exp_name, exp_id = experiment
    done = start_run(mlflow_logger, exp_id, "old-run", T0 - timedelta(minutes=3))
    mlflow_logger.end_run(done, "FINISHED", ms(T0 - timedelta(minutes=2)))
    assert "1 run so far" in bot.reply(f"track mlflow:experiment/{exp_name}")
    for _ in range(3):
        bot.clock.advance(minutes=1)
        bot.cycle()
    assert texts(bot) == []  # the reply to /ready track already showed it finished


def test_stalled_once_and_recovered_once(connected, mlflow_logger, experiment):
    bot = connected
    _, exp_id = experiment
    run_id = start_run(mlflow_logger, exp_id, "quiet", T0 - timedelta(minutes=1))
    bot.reply(f"track mlflow:{run_id}")
    bot.cycle()
    bot.clock.advance(minutes=45)  # READYBOT_STALL_MINUTES defaults to 30
    bot.cycle()
    bot.clock.advance(minutes=5)
    bot.cycle()
    stalled = [t for t in texts(bot) if "stalled" in t]
    assert len(stalled) == 1, texts(bot)

    mlflow_logger.log_metrics(run_id, [("loss", 0.5, 7, ms(bot.clock.now))])
    bot.clock.advance(minutes=1)
    bot.cycle()
    bot.cycle()
    assert len([t for t in texts(bot) if "moving again" in t]) == 1, texts(bot)
    assert len(texts(bot)) == 2


def test_tracker_outage_marks_data_stale_without_state_change_or_messages(connected, mlflow_logger, experiment):
    bot = connected
    _, exp_id = experiment
    run_id = start_run(mlflow_logger, exp_id, "steady", T0 - timedelta(minutes=1))
    bot.reply(f"track mlflow:{run_id}")
    bot.cycle()
    dead = "http://127.0.0.1:9"  # discard port: connection refused, like a server that is down
    with bot.services.store.tx() as s:
        real_url = s.scalar(select(Connection.url))
        s.execute(update(Connection).values(url=dead))
    for _ in range(4):
        bot.clock.advance(minutes=10)
        bot.cycle()
    with bot.services.store.tx() as s:
        run = s.scalar(select(Run).where(Run.ref == run_id))
        assert run.state == "running"  # an outage never makes a run failed or stalled
        assert run.stale_since is not None
    assert texts(bot) == []
    assert "old (tracker not answering)" in bot.reply("runs")

    with bot.services.store.tx() as s:
        s.execute(update(Connection).values(url=real_url))
    mlflow_logger.log_metrics(run_id, [("loss", 0.4, 9, ms(bot.clock.now))])
    bot.cycle()
    with bot.services.store.tx() as s:
        assert s.scalar(select(Run.stale_since).where(Run.ref == run_id)) is None
    assert "not answering" not in bot.reply("runs")


def test_run_deleted_on_the_tracker_is_reported_once_and_not_called_running(connected, mlflow_logger, experiment):
    bot = connected
    _, exp_id = experiment
    run_id = start_run(mlflow_logger, exp_id, "doomed", T0 - timedelta(minutes=1))
    bot.reply(f"track mlflow:{run_id}")
    bot.cycle()
    # An outage first: the data goes stale, nothing is said.
    with bot.services.store.tx() as s:
        real_url = s.scalar(select(Connection.url))
        s.execute(update(Connection).values(url="http://127.0.0.1:9"))
    bot.clock.advance(minutes=1)
    bot.cycle()
    with bot.services.store.tx() as s:
        s.execute(update(Connection).values(url=real_url))
    mlflow_logger.delete_run(run_id)
    bot.clock.advance(minutes=1)
    bot.cycle()  # the first answer without it: not believed yet
    assert texts(bot) == [] and "not listed by `mlflow`" in bot.reply("runs")
    for _ in range(2):
        bot.clock.advance(minutes=5)  # confirmed by the third answer, ten minutes after the first
        bot.cycle()
    shown = texts(bot)
    assert len(shown) == 1 and "doomed" in shown[0] and "can no longer be found" in shown[0], shown
    line = bot.reply("runs")
    assert "doomed" in line and "running" not in line and "not answering" not in line, line
    assert "not found on mlflow" in line


def test_a_renamed_experiment_does_not_stop_other_runs_being_watched(connected, mlflow_logger, experiment):
    # The watch asks for the experiment by name; once renamed, the tracker says "no such
    # experiment" (a permanent error) on every poll. That is this watch's problem alone.
    bot = connected
    gone_name, gone_id = experiment
    other_exp = mlflow_logger.create_experiment(f"other-{uuid.uuid4().hex[:8]}")
    run_id = start_run(mlflow_logger, other_exp, "keeps-going", T0 - timedelta(minutes=1))
    bot.reply(f"track mlflow:experiment/{gone_name}")
    bot.reply(f"track mlflow:{run_id}")
    bot.cycle()
    mlflow_logger.post("experiments/update", {"experiment_id": gone_id, "new_name": gone_name + "-renamed"})
    bot.clock.advance(minutes=1)
    bot.cycle()
    mlflow_logger.end_run(run_id, "FINISHED", ms(bot.clock.now))
    bot.clock.advance(minutes=1)
    bot.cycle()
    bot.clock.advance(minutes=1)
    bot.cycle()
    shown = texts(bot)
    assert len([t for t in shown if "keeps-going" in t and "finished" in t]) == 1, shown
    assert len([t for t in shown if gone_name in t and "can no longer be found" in t]) == 1, shown
    assert "not answering" not in bot.reply("runs")


def test_track_unknown_run_changes_nothing(connected):
    reply = connected.reply("track mlflow:0123456789abcdef0123456789abcdef")
    assert "no run" in reply and "Nothing was tracked" in reply
    assert "No runs are tracked" in connected.reply("runs")


def test_connect_to_unreachable_tracker_saves_nothing(bot):
    reply = bot.reply("connect mlflow http://127.0.0.1:9 as dead")
    assert "Could not reach" in reply and "Nothing was saved" in reply
    assert "No connection named `dead`" in bot.reply("track dead:abc")


def test_untracking_a_run_that_came_with_an_experiment_says_how(connected, mlflow_logger, experiment):
    bot = connected
    exp_name, exp_id = experiment
    run_id = start_run(mlflow_logger, exp_id, "member", T0 - timedelta(minutes=1))
    bot.reply(f"track mlflow:experiment/{exp_name}")
    reply = html.unescape(bot.reply(f"untrack mlflow:{run_id}"))
    assert f"part of experiment `{exp_name}`" in reply and f"/ready untrack mlflow:experiment/{exp_name}" in reply
    assert "member" in bot.reply("runs")  # nothing changed


@pytest.fixture
def proxied(bot, mlflow_server):
    proxy = FaultProxy(mlflow_server)
    assert "Connected" in bot.reply(f"connect mlflow {proxy.url}")
    yield bot, proxy
    proxy.close()


def test_one_empty_answer_is_not_announced_and_the_run_keeps_its_state(proxied, mlflow_logger, experiment):
    """Issue 12 item 1: one `200 {}` from MLflow posted "can no longer be found" and set the run
    to unknown while it trained on. Absent from fewer than three answers spanning ten minutes,
    a run keeps its state, /ready runs says since when it is not listed, and its return says nothing."""
    bot, proxy = proxied
    _, exp_id = experiment
    run_id = start_run(mlflow_logger, exp_id, "keeps-training", T0 - timedelta(minutes=1))
    bot.reply(f"track mlflow:{run_id}")
    bot.cycle()
    proxy.fault = lambda path, body: {}  # every request of this poll: 200 {}
    for _ in range(2):
        bot.clock.advance(minutes=6)
        bot.cycle()
    line = html.unescape(bot.reply("runs"))
    assert "running" in line and "not listed by `mlflow` since" in line, line
    proxy.fault = None
    mlflow_logger.log_metrics(run_id, [("loss", 0.5, 2, ms(bot.clock.now))])
    bot.clock.advance(minutes=1)
    bot.cycle()
    assert texts(bot) == []
    line = html.unescape(bot.reply("runs"))
    assert "running" in line and "not listed" not in line, line
    # Gone for real afterwards: the count started again, so one more absence is not enough.
    proxy.fault = lambda path, body: {}
    bot.clock.advance(minutes=11)
    bot.cycle()
    assert texts(bot) == []
