"""Comet REST v2 answers -> RunSnapshot / MetricPoint. Pure: no I/O, no clock.

Shapes follow https://www.comet.com/docs/v2/api-and-sdk/rest-api/read-endpoints/ ; the Java SDK's REST models
(ExperimentMetadataRest, ValueMinMaxRest, MetricRest) confirm that metric values are strings
while steps and timestamps are numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from integrations.base import MetricPoint, RunSnapshot, RunState
from integrations.shape import items, obj, reading, text

NAME = "Comet"

# Comet logs machine statistics as ordinary metrics named "sys.*". They keep arriving while
# training hangs, so they count as a sign of life but not as training progress or results.
SYSTEM_PREFIX = "sys."


def state(metadata: Mapping[str, Any]) -> RunState:
    # `running` wins over `hasCrashed`: a crashed experiment resumed with ExistingExperiment keeps
    # its crashed flag while it runs again (github.com/comet-ml/issue-tracking/issues/528).
    if _flag(metadata.get("running")):
        return RunState.RUNNING
    if _flag(metadata.get("hasCrashed")):
        return RunState.FAILED
    return RunState.FINISHED


def to_snapshot(
    ref: str, metadata: Mapping[str, Any], summary: Iterable[Mapping[str, Any]], ui_url: str
) -> RunSnapshot:
    """`metadata` from experiment/metadata (or one row of `experiments`), `summary` the
    `values` of experiment/metrics/summary."""
    with reading(NAME, "an experiment"):
        return _snapshot(ref, metadata, summary, ui_url)


def _snapshot(ref: str, metadata: Any, summary: Any, ui_url: str) -> RunSnapshot:
    metadata = obj(metadata, NAME, "experiment metadata", missing_ok=False)
    run_state = state(metadata)
    metrics: dict[str, float] = {}
    steps: list[int] = []
    seen: list[int] = []
    for row in items(summary, NAME, "a metrics summary"):
        row = obj(row, NAME, "a metrics summary row", missing_ok=False)
        name = text(row.get("name")) or ""
        timestamp = _integer(row.get("timestampCurrent"))
        if timestamp is not None:
            seen.append(timestamp)
        value = number(row.get("valueCurrent"))
        if not name or name.startswith(SYSTEM_PREFIX) or value is None:
            continue
        metrics[name] = value
        step = _integer(row.get("stepCurrent"))
        if step is not None:
            steps.append(step)
    workspace, project = text(metadata.get("workspaceName")), text(metadata.get("projectName"))
    return RunSnapshot(
        ref=ref,
        state=run_state,
        name=text(metadata.get("experimentName")),
        experiment=f"{workspace}/{project}" if workspace and project else None,
        step=max(steps) if steps else None,
        metrics=metrics,
        started_at=from_millis(metadata.get("startTimeMillis")),
        # While running, endTimeMillis is not an end (trackers.md does not say what it holds then).
        ended_at=None if run_state is RunState.RUNNING else from_millis(metadata.get("endTimeMillis")),
        heartbeat_at=from_millis(max(seen)) if seen else None,
        owner=text(metadata.get("userName")),
        url=experiment_url(ui_url, workspace, project, ref),
    )


@reading(NAME, "a metric history")
def history_points(rows: Iterable[Mapping[str, Any]], start_step: int | None) -> list[MetricPoint]:
    """experiment/metrics/get-metric rows, which Comet returns unsorted, -> ascending by step.
    Rows logged without a step cannot be placed on the step axis and are skipped."""
    points = []
    for row in items(rows, NAME, "a metric history"):
        row = obj(row, NAME, "a metric history row", missing_ok=False)
        step, value = _integer(row.get("step")), number(row.get("metricValue"))
        at = from_millis(row.get("timestamp"))
        if step is None or value is None or at is None:
            continue
        if start_step is None or step >= start_step:
            points.append(MetricPoint(step=step, value=value, at=at))
    points.sort(key=lambda point: (point.step, point.at))
    return points


def experiment_url(ui_url: str, workspace: Any, project: Any, key: str) -> str | None:
    if not workspace or not project:
        return None
    return f"{ui_url}/{quote(str(workspace), safe='')}/{quote(str(project), safe='')}/{quote(key, safe='')}"


def number(value: Any) -> float | None:
    """Comet sends metric values as strings ("0.25", "NaN"); numbers are accepted too."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # a text-valued metric: not something a threshold can use


def from_millis(value: Any) -> datetime | None:
    millis = _integer(value)
    return datetime.fromtimestamp(millis / 1000, UTC) if millis is not None else None


def _integer(value: Any) -> int | None:
    parsed = number(value)
    return int(parsed) if parsed is not None and math.isfinite(parsed) else None


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
