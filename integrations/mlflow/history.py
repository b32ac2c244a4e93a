"""Metric history calls: the bulk endpoint for many runs, per-run get-history when it can't serve.

Server rules read from MLflow 3.17 (mlflow/server/handlers.py, store/tracking/abstract_store.py):
- get-history-bulk-interval takes at most 100 run_ids and 1..2,500 points per run, and
  start_step only together with end_step (HTTP 400 otherwise). Unknown runs give no points.
- It *samples*: when the steps in range (the union over all runs asked together) exceed
  max_results, it returns an evenly spaced subset. Such an answer is incomplete, so we re-read
  those runs through get-history, which pages through every point.
- get-history answers 200 `{}` for an unknown run or key; pages hold up to 25,000 points.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from integrations.base import MetricPoint
from integrations.http import TrackerHttp
from integrations.mlflow.search import API
from integrations.mlflow.translate import metric_point
from integrations.shape import items, obj

BULK_RUNS = 100
BULK_POINTS = 2500
HISTORY_PAGE = 25000
# int64 bounds: the bulk endpoint wants both ends of the step range once either is given, and
# without any it starts at step 0, which would drop negative steps.
STEP_MIN, STEP_MAX = -(2**63), 2**63 - 1


def bulk_history(
    http: TrackerHttp, run_ids: Sequence[str], key: str, start_step: int | None
) -> dict[str, list[MetricPoint]] | None:
    """Points per run from one request, or None when the server may have sampled them."""
    params: dict[str, Any] = {
        "run_ids": list(run_ids),  # requests repeats the parameter: run_ids=a&run_ids=b
        "metric_key": key,
        "max_results": BULK_POINTS,
        "start_step": STEP_MIN if start_step is None else start_step,
        "end_step": STEP_MAX,
    }
    page = obj(http.get(API + "metrics/get-history-bulk-interval", params), "MLflow", "a metric history", missing_ok=False)
    raw = [obj(row, "MLflow", "a metric history row", missing_ok=False)
           for row in items(page.get("metrics"), "MLflow", "the metrics of a metric history")]
    if _maybe_sampled(raw):
        return None
    points: dict[str, list[MetricPoint]] = defaultdict(list)
    for item in raw:
        points[str(item.get("run_id"))].append(metric_point(item))
    return points


def full_history(http: TrackerHttp, run_id: str, key: str) -> list[MetricPoint]:
    """Every point of one run's metric, all pages."""
    params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
    points: list[MetricPoint] = []
    while True:
        page = obj(http.get(API + "metrics/get-history", params), "MLflow", "a metric history", missing_ok=False)
        points.extend(metric_point(item) for item in items(page.get("metrics"), "MLflow", "the metrics of a metric history"))
        if not page.get("next_page_token"):
            return points
        params["page_token"] = page["next_page_token"]


def _maybe_sampled(raw: list[dict[str, Any]]) -> bool:
    # Unsampled answers hold fewer than BULK_POINTS distinct steps and rows per run; exactly
    # BULK_POINTS may still be complete, and then re-reading costs requests, not correctness.
    steps = {item.get("step", 0) for item in raw}
    rows = Counter(item.get("run_id") for item in raw)
    return len(steps) >= BULK_POINTS or any(n >= BULK_POINTS for n in rows.values())
