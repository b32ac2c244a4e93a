"""MLflow run and metric JSON -> RunSnapshot / MetricPoint. Pure: no I/O.

Shapes follow https://mlflow.org/docs/latest/rest-api.html, read off a real 3.17 server.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from integrations.base import MalformedAnswer, MetricPoint, RunSnapshot, RunState
from integrations.shape import items, obj, reading, text

NAME = "MLflow"

STATES = {
    "RUNNING": RunState.RUNNING,
    "SCHEDULED": RunState.QUEUED,
    "FINISHED": RunState.FINISHED,
    "FAILED": RunState.FAILED,
    "KILLED": RunState.KILLED,
}

# Where a run's expected length can come from, in the order we trust them.
# MLflow's `step` is whatever the training code passed to log_metric, so the unit matters:
# - the tag `readybot.total_steps` is the team telling us outright;
# - max_steps/total_steps count optimizer steps, the unit of per-step logging (HF Trainer,
#   Lightning); HF writes max_steps=-1 for "not set", so non-positive values are ignored;
# - epoch counts match only runs that log once per epoch (Keras, Lightning epoch-end metrics).
#   A run whose step already passed the epoch count logs per batch, so there the epoch count
#   says nothing about the total and we report None rather than a wrong ETA.
TOTAL_STEPS_TAG = "readybot.total_steps"
STEP_PARAMS = ("max_steps", "total_steps")
EPOCH_PARAMS = ("epochs", "num_epochs", "max_epochs", "num_train_epochs")

# The SQL store clamps +-inf to +-float max on write (NaN comes back as the string "NaN");
# map the clamp back so a diverged loss reads as inf, not as 1.8e308.
_CLAMPED = sys.float_info.max


def ms_to_datetime(ms: Any) -> datetime | None:
    if ms is None or ms == "":
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def metric_value(raw: Any) -> float:
    """A metric value as MLflow's JSON carries it: a number, or "NaN"/"Infinity"/"-Infinity"."""
    value = float(raw)  # float() reads all three spellings
    if abs(value) == _CLAMPED:
        return math.copysign(math.inf, value)
    return value


@reading(NAME, "a metric")
def metric_point(raw: Mapping[str, Any]) -> MetricPoint:
    return _metric_point(raw)


def _metric_point(raw: Any) -> MetricPoint:
    raw = obj(raw, NAME, "a metric", missing_ok=False)
    step, value = raw.get("step", 0), raw.get("value", "NaN")
    if isinstance(step, bool) or not isinstance(step, int | str) or isinstance(value, bool):
        raise MalformedAnswer(f"{NAME} answered a metric whose step or value is not a number")
    return MetricPoint(step=int(step), value=metric_value(value), at=ms_to_datetime(raw.get("timestamp", 0)))


def latest_per_step(points: Iterable[MetricPoint]) -> list[MetricPoint]:
    """Ascending by step; where a step was logged twice, the later timestamp wins."""
    by_step: dict[int, MetricPoint] = {}
    for point in sorted(points, key=lambda p: (p.step, p.at)):
        by_step[point.step] = point
    return list(by_step.values())


@functools.lru_cache(maxsize=256)
def ui_url(base_url: str) -> str:
    """The server's base URL without any user:password@ part, fit to show in Slack."""
    parts = urlsplit(base_url.rstrip("/"))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def snapshot(
    run: Mapping[str, Any], base_url: str, experiments: Mapping[str, str] | None = None
) -> RunSnapshot:
    """One `run` object from runs/search or runs/get. `experiments` maps id -> name when known.
    A run of the wrong shape raises MalformedAnswer naming the field."""
    with reading(NAME, "a run"):
        return _snapshot(run, base_url, experiments or {})


def _snapshot(run: Any, base_url: str, experiments: Mapping[str, str]) -> RunSnapshot:
    run = obj(run, NAME, "a run", missing_ok=False)
    info = obj(run.get("info"), NAME, "a run's info", missing_ok=False)
    data = obj(run.get("data"), NAME, "a run's data")
    run_id = info.get("run_id") or info.get("run_uuid")
    if not isinstance(run_id, str):
        raise MalformedAnswer(f"{NAME} answered a run whose info.run_id is not a string")
    if not isinstance(info.get("status", ""), str):
        raise MalformedAnswer(f"{NAME} answered run {run_id[:64]} whose info.status is not a string")
    experiment_id = str(info.get("experiment_id", ""))
    tags = _pairs(items(data.get("tags"), NAME, "a run's data.tags"))
    params = _pairs(items(data.get("params"), NAME, "a run's data.params"))
    latest = _latest_metrics(items(data.get("metrics"), NAME, "a run's data.metrics"))
    step = max((p.step for p in latest.values()), default=None)
    started_at = ms_to_datetime(info.get("start_time"))
    return RunSnapshot(
        ref=run_id,
        state=STATES.get(info.get("status", ""), RunState.UNKNOWN),
        name=text(info.get("run_name")) or text(tags.get("mlflow.runName")),
        experiment=text(experiments.get(experiment_id, experiment_id)),
        step=step,
        total_steps=total_steps(params, tags, step),
        metrics={key: point.value for key, point in latest.items()},
        params=params,
        started_at=started_at,
        ended_at=ms_to_datetime(info.get("end_time")),
        heartbeat_at=max((p.at for p in latest.values()), default=started_at),
        owner=text(info.get("user_id")) or text(tags.get("mlflow.user")),
        url=f"{ui_url(base_url)}/#/experiments/{experiment_id}/runs/{run_id}",
    )


def total_steps(params: Mapping[str, str], tags: Mapping[str, str], step: int | None) -> int | None:
    """Expected final step, by the rule written above STEP_PARAMS."""
    explicit = _positive_int(tags.get(TOTAL_STEPS_TAG))
    if explicit:
        return explicit
    for name in STEP_PARAMS:
        if value := _positive_int(params.get(name)):
            return value
    for name in EPOCH_PARAMS:
        if value := _positive_int(params.get(name)):
            return value if step is None or step <= value else None
    return None


def _latest_metrics(raw: Iterable[Mapping[str, Any]]) -> dict[str, MetricPoint]:
    # runs/search already sends one entry per key (its latest); keep the newest if a server repeats.
    latest: dict[str, MetricPoint] = {}
    with reading(NAME, "a metric"):  # once for the run's metrics, not once per metric
        for item in raw:
            point = _metric_point(item)
            key = _key(item)
            current = latest.get(key)
            if current is None or (point.step, point.at) >= (current.step, current.at):
                latest[key] = point
    return latest


def _pairs(raw: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {_key(item): str(item.get("value", "")) for item in raw}


def _key(item: Any) -> str:
    # type() first: decoded JSON is a dict, and an ABC's isinstance costs ten times as much.
    key = item.get("key") if type(item) is dict or isinstance(item, Mapping) else None
    if not isinstance(key, str):
        raise MalformedAnswer(f"{NAME} answered a metric, param or tag without a string key")
    return key


def _positive_int(raw: str | None) -> int | None:
    # HF writes num_train_epochs as "3.0"; a fractional epoch count is no step total.
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value >= 1 and value.is_integer() else None
