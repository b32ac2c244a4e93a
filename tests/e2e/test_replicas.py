"""Several replicas on one database: every notification is still posted once."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.jobs.poll import poll_once
from bot.notify.dispatch import Dispatcher
from bot.services import build_services
from tests.conftest import T0, make_settings, quick_trackers
from tests.e2e.poll_support import ms, runs_just_finished

pytestmark = pytest.mark.mlflow


def test_three_replicas_polling_and_sending_together_post_once(bot, mlflow_server, mlflow_logger):
    runs_just_finished(bot, mlflow_logger, mlflow_server, 5, "r")

    settings = make_settings(bot.fake, bot.services.store.url)
    replicas = [build_services(settings, clock=bot.clock, trackers=quick_trackers)
                for _ in range(3)]
    barrier = threading.Barrier(len(replicas))
    errors: list[BaseException] = []

    def replica(services) -> None:
        try:
            barrier.wait()
            poll_once(services)
            Dispatcher(services.store, services.clients, bot.clock).drain()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for r in replicas:
        r.store.dispose()
    assert errors == []
    finished = [m["text"] for m in bot.fake.messages("C1") if "finished" in m.get("text", "")]
    assert sorted(finished) == sorted(set(finished)) and len(finished) == 5


def test_a_slow_replicas_older_answer_does_not_turn_a_finished_run_back(bot, mlflow_server, mlflow_logger):
    """The poll lease is taken for 3 poll intervals and not renewed: a poll slower than that (slow
    trackers) overlaps the next replica's. The slow one asked while the run was running and
    records after the other recorded it finished; applied, that answer set the run back to
    running, and as the finished run is no longer polled, it stayed so (its review never ready)."""
    from bot.jobs.poll import ask, plan
    from bot.jobs.record import record
    from bot.store.models import Run

    exp = mlflow_logger.create_experiment(f"overlap-{uuid.uuid4().hex[:8]}")
    run_id = mlflow_logger.create_run(exp, start_ms=ms(T0 - timedelta(minutes=5)), name="overlap")
    mlflow_logger.log_metrics(run_id, [("loss", 0.5, 1, ms(T0))])
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    assert "Now tracking" in bot.reply(f"track mlflow:{run_id}")
    bot.cycle()
    slow = build_services(make_settings(bot.fake, bot.services.store.url), clock=bot.clock,
                          trackers=quick_trackers)
    [work] = plan(slow)
    answer = ask(slow, work)  # asked while the run is running
    mlflow_logger.end_run(run_id, "FINISHED", ms(T0 + timedelta(minutes=1)))
    bot.clock.advance(minutes=2)
    bot.cycle()  # the next replica sees it finish and says so
    bot.clock.advance(seconds=5)
    record(slow, work, answer)  # the slow replica's older answer lands last
    slow.store.dispose()
    with bot.services.store.tx() as s:
        assert s.scalar(select(Run.state).where(Run.ref == run_id)) == "finished"
    assert len([m for m in bot.fake.messages("C1") if "finished" in m.get("text", "")]) == 1
