"""Slack's 3-second ack is never at risk from a poll in progress
(https://api.slack.com/interactivity/slash-commands#responding_to_commands): `readybot serve`
(role all: HTTP and the scheduler in one process) answers signed slash commands at once while
its scheduler's poll waits on a tracker that has stopped answering. A real MLflow server behind
a proxy that holds its answers (tests/fault_proxy.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.notify import outbox
from bot.sandbox import SlackSender
from bot.server import Server
from tests.conftest import SIGNING_SECRET, T0, Bot
from tests.fault_proxy import Canned, FaultProxy
from tests.slack_text import shown

pytestmark = pytest.mark.mlflow
ACK_WITHIN = 1.0  # seconds: a third of Slack's deadline


@pytest.fixture
def proxy(mlflow_server: str) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(mlflow_server)
    yield fault_proxy
    fault_proxy.close()


def test_slash_commands_are_acked_within_a_second_while_a_poll_hangs_on_its_tracker(
        services, fake_slack, clock, proxy, mlflow_logger):
    server = Server(services, port=0, host="127.0.0.1", scheduler=True).start()
    try:
        sender = SlackSender(server.url + "/slack/events", SIGNING_SECRET, fake_slack)
        bot = Bot(server, services, sender, fake_slack, clock)
        exp = mlflow_logger.create_experiment(f"ack-{uuid.uuid4().hex[:8]}")
        ref = mlflow_logger.create_run(exp, start_ms=int((T0 - timedelta(minutes=5)).timestamp() * 1000), name="busy")
        assert "Connected" in bot.reply(f"connect mlflow {proxy.url}")
        assert "Now tracking" in bot.reply(f"track mlflow:{ref}")

        asked = threading.Event()

        def hang(path: str, body: dict | None) -> Canned:
            asked.set()
            return Canned(hang=True)

        proxy.fault = hang
        server.scheduler.get_job("poll").modify(next_run_time=datetime.now(UTC))  # the scheduler's own poll, now
        assert asked.wait(30), "the scheduler's poll never reached the tracker"
        # A read, help, and a write (a digest schedule): the waiting poll holds no transaction.
        for text in ("help", "runs", "digest at 17:00"):
            started = time.monotonic()
            resp = sender.command(text)
            took = time.monotonic() - started
            assert resp.status_code == 200, resp.text
            assert took < ACK_WITHIN, f"/ready {text} acked after {took:.2f}s while a poll hung"
        assert "busy" in bot.reply("runs")
    finally:
        proxy.fault = None  # the hung request ends; the poll finishes or times out
        server.stop()


def test_a_finished_run_is_announced_while_another_connections_tracker_hangs(
        bot, proxy, mlflow_server, mlflow_logger):
    """Polls are claimed per connection and run on a bounded pool: a tracker that stopped
    answering holds its own connection only, so another team's finished run is still announced."""
    exp = mlflow_logger.create_experiment(f"iso-{uuid.uuid4().hex[:8]}")
    start_ms = int((T0 - timedelta(minutes=5)).timestamp() * 1000)
    stuck = mlflow_logger.create_run(exp, start_ms=start_ms, name="stuck")
    moving = mlflow_logger.create_run(exp, start_ms=start_ms, name="moving")
    assert "Connected" in bot.reply(f"connect mlflow {proxy.url} as hanging")
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server} as direct")
    assert "Now tracking" in bot.reply(f"track hanging:{stuck}")
    assert "Now tracking" in bot.reply(f"track direct:{moving}")
    bot.cycle()
    mlflow_logger.end_run(moving, "FINISHED", start_ms + 60_000)

    asked = threading.Event()

    def hang(path: str, body: dict | None) -> Canned:
        asked.set()
        return Canned(hang=True)

    proxy.fault = hang
    queued = threading.Event()  # the direct connection's answer committed its message
    bot.services.store.on_commit(outbox.TOPIC, queued.set)
    bot.clock.advance(minutes=5)
    poll = threading.Thread(target=bot.poll, daemon=True)
    poll.start()
    try:
        assert asked.wait(30), "the poll never reached the hanging tracker"
        # Within 10 s: less than the hanging tracker's own give-up time (3 tries of 5 s, quick_trackers).
        assert queued.wait(10), "the other connection's finish was not recorded while one tracker hung"
        assert poll.is_alive()  # still waiting on the hanging tracker
        bot.deliver()
        assert any("moving" in shown(m) and "finished" in shown(m) for m in bot.fake.messages("C1"))
    finally:
        bot.services.store.off_commit(outbox.TOPIC, queued.set)
        proxy.fault = None  # the hung request ends
        poll.join(30)
