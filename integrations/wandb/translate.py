"""W&B GraphQL run nodes -> RunSnapshot. Pure: no I/O, no clock.

Shapes follow https://docs.wandb.ai/models/ref/python/public-api and the SDK's own reader,
https://github.com/wandb/wandb/blob/main/wandb/apis/public/runs.py (`RUN_FRAGMENT`, `_convert_to_dict`, `Run._load_from_attrs`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from integrations.base import MetricPoint, RunSnapshot, RunState
from integrations.shape import items, obj, reading, text

NAME = "W&B"

DEFAULT_API_URL = "https://api.wandb.ai"

STATES = {
    "running": RunState.RUNNING,
    "finished": RunState.FINISHED,
    "failed": RunState.FAILED,
    "crashed": RunState.FAILED,  # W&B's word for "heartbeats stopped": the process died
    "killed": RunState.KILLED,
    # Preempted runs are waiting to be resumed by their scheduler, pending ones to start:
    # neither is an outcome yet, so both count as queued.
    "preempting": RunState.QUEUED,
    "preempted": RunState.QUEUED,
    "pending": RunState.QUEUED,
}

# Config keys that say how long a run will be, most specific first. Step counts come before
# epoch counts because `_step` counts log calls, which usually tracks optimizer steps.
TOTAL_KEYS = (
    "max_steps",
    "total_steps",
    "num_steps",
    "num_train_steps",
    "train_steps",
    "epochs",
    "num_epochs",
    "max_epochs",
    "n_epochs",
    "num_train_epochs",
)

# Keys the SDK stores in config for itself (wandb/apis/public/runs.py WANDB_INTERNAL_KEYS).
INTERNAL_CONFIG_KEYS = {"_wandb", "wandb_version"}


def json_field(value: Any) -> dict[str, Any]:
    """config/summaryMetrics/historyKeys arrive as JSON strings; tolerate objects and null too
    (the SDK's own `_convert_to_dict` does the same, and reads historyKeys as an object)."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def parse_time(value: Any) -> datetime | None:
    """W&B timestamps are ISO strings, usually without a zone ("2024-03-12T10:11:12"): UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def from_epoch(seconds: Any) -> datetime | None:
    number = _finite(seconds)
    return datetime.fromtimestamp(number, UTC) if number is not None else None


def unwrap_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """{"epochs": {"value": 10, "desc": null}} -> {"epochs": 10}, minus W&B's own keys."""
    config = {}
    for key, value in raw.items():
        if key in INTERNAL_CONFIG_KEYS:
            continue
        config[key] = value["value"] if isinstance(value, Mapping) and "value" in value else value
    return config


def total_steps(config: Mapping[str, Any]) -> int | None:
    for key in TOTAL_KEYS:
        number = _finite(config.get(key))
        if number is not None and number > 0:
            return int(number)
    return None


def latest_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """Numeric summary values; `_step`, `_runtime`, `_timestamp` and W&B's own `_wandb` are
    bookkeeping, and media/histogram entries arrive as dicts, so both are left out."""
    return {
        key: number
        for key, value in summary.items()
        if not key.startswith("_") and (number := _number(value)) is not None
    }


def app_url(api_url: str) -> str:
    """The UI lives on wandb.ai for the cloud API; a self-hosted server serves both on one host."""
    parts = urlsplit(api_url)
    if parts.hostname == "api.wandb.ai":
        return "https://wandb.ai"
    return f"{parts.scheme}://{parts.netloc}"


def run_url(api_url: str, entity: str, project: str, name: str) -> str:
    path = "/".join(quote(part, safe="") for part in (entity, project))
    return f"{app_url(api_url)}/{path}/runs/{quote(name, safe='')}"


@reading(NAME, "a run")
def to_snapshot(node: Mapping[str, Any], *, ref: str, entity: str, project: str, api_url: str) -> RunSnapshot:
    node = obj(node, NAME, "a run", missing_ok=False)
    state = STATES.get(str(node.get("state") or "").lower(), RunState.UNKNOWN)
    summary = json_field(node.get("summaryMetrics"))
    config = unwrap_config(json_field(node.get("config")))
    step = _finite(summary.get("_step"))
    if step is None:
        step = _finite(json_field(node.get("historyKeys")).get("lastStep"))
    if step is not None and step < 0:
        step = None  # lastStep is -1 until the run logs its first row
    heartbeat = parse_time(node.get("heartbeatAt"))
    user = obj(node.get("user"), NAME, "a run's user")
    return RunSnapshot(
        ref=ref,
        state=state,
        name=text(node.get("displayName")) or text(node.get("name")),
        experiment=f"{entity}/{project}",
        step=int(step) if step is not None else None,
        total_steps=total_steps(config),
        metrics=latest_metrics(summary),
        params={key: _param(value) for key, value in config.items()},
        started_at=parse_time(node.get("createdAt")),
        # W&B has no end time; the last heartbeat of a run that has stopped is the closest.
        ended_at=heartbeat if state.is_terminal else None,
        heartbeat_at=heartbeat,
        owner=text(user.get("username")) or text(user.get("name")),
        url=run_url(api_url, entity, project, str(node.get("name") or "")),
    )


@reading(NAME, "a metric history")
def history_points(rows: list[Any], key: str, start_step: int | None) -> list[MetricPoint]:
    """sampledHistory rows ({"_step": 3, "_timestamp": 1.7e9, "loss": 0.4}) -> ascending points."""
    points = []
    for row in items(rows, NAME, "a sampledHistory"):
        if not isinstance(row, Mapping):
            continue
        step, value = _finite(row.get("_step")), _number(row.get(key))
        at = from_epoch(row.get("_timestamp"))
        if step is None or value is None or at is None:
            continue
        if start_step is not None and step < start_step:
            continue
        points.append(MetricPoint(step=int(step), value=value, at=at))
    points.sort(key=lambda point: point.step)
    return points


def _number(value: Any) -> float | None:
    """A metric value. NaN and inf stay: a diverging loss is news, not noise."""
    # bool is an int in Python, but True is not a metric value.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _finite(value: Any) -> float | None:
    """A step, count or time: these feed int() and datetime, which reject NaN and inf."""
    number = _number(value)
    return number if number is not None and math.isfinite(number) else None


def _param(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
