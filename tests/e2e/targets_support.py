"""Shared steps for the target alert end-to-end tests: a real MLflow server, signed /ready
commands, the outbox and the fake Slack. MLflow timestamps follow the test clock."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from bot.store.models import Alert
from tests.slack_text import shown  # noqa: F401 - re-exported

CHANNEL = "C1"


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def top_level(bot, channel: str = CHANNEL) -> list[dict]:
    """Channel messages, thread replies left out."""
    return [m for m in bot.fake.messages(channel) if m.get("thread_ts") in (None, m["ts"])]


def thread_of(bot, message: dict, channel: str = CHANNEL) -> list[dict]:
    return [m for m in bot.fake.messages(channel) if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]]


def buttons(message: dict) -> dict[str, str]:
    """action_id -> value of every button in the message."""
    return {
        e["action_id"]: e["value"]
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    }


def alerts(bot) -> list[Alert]:
    with bot.services.store.tx() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


def new_experiment(mlflow_logger) -> str:
    return mlflow_logger.create_experiment(f"targets-{uuid.uuid4().hex[:8]}")


def start_run(bot, mlflow_logger, exp_id: str, name: str, started: datetime) -> str:
    """An MLflow run the channel tracks, with a loss logged so it has a step."""
    run_id = mlflow_logger.create_run(exp_id, start_ms=ms(started), name=name)
    mlflow_logger.log_metrics(run_id, [("loss", 1.0, 0, ms(started))])
    assert "Now tracking" in bot.reply(f"track mlflow:{run_id}")
    return run_id
