"""Shared steps for the poll-cycle end-to-end tests (test_poll_isolation.py, test_replicas.py):
runs on a real MLflow server, tracked through signed /ready commands. MLflow timestamps
follow the test clock."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from tests.conftest import T0


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def runs_just_finished(bot, mlflow_logger, mlflow_server: str, count: int, prefix: str) -> list[str]:  # noqa: ANN001
    """`count` runs of one connection, tracked and polled while running, that have all
    finished on the tracker since: the next poll finishes them all. Their MLflow ids."""
    exp = mlflow_logger.create_experiment(f"{prefix}-{uuid.uuid4().hex[:8]}")
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    refs = [mlflow_logger.create_run(exp, start_ms=ms(T0 - timedelta(minutes=5)), name=f"{prefix}{i}")
            for i in range(count)]
    for ref in refs:
        mlflow_logger.log_metrics(ref, [("loss", 0.5, 1, ms(T0))])
        assert "Now tracking" in bot.reply(f"track mlflow:{ref}")
    bot.cycle()
    for ref in refs:
        mlflow_logger.end_run(ref, "FINISHED", ms(T0 + timedelta(minutes=1)))
    bot.clock.advance(minutes=2)
    return refs
