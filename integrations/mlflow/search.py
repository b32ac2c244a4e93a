"""Paginated runs/search and experiments/search calls on one TrackerHttp.

Facts measured on a real MLflow 3.17 server (tests/perf/bench_mlflow_poll.py re-measures):
- runs/search with `experiment_ids: []` (or none) answers `{}`: the ids must be named, so
  fetching runs by id first needs the experiment ids (one experiments/search, cached).
- `attributes.run_id IN (...)` parses up to about 4,990 ids; 5,000 fails with HTTP 400
  "Error on parsing filter" (the filter tokenizer's limit, not a byte limit: 4,900 ids = 171 KB
  passes). 20,000 experiment ids in one request are accepted.
- A next_page_token comes only when more rows exist (the store reads max_results + 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from integrations.base import MalformedAnswer
from integrations.http import TrackerHttp
from integrations.shape import items, obj

API = "api/2.0/mlflow/"

# Run ids per runs/search request: 1,000 ids make a 35 KB filter, a fifth of what the server
# parses, and equal MLflow's default page so one chunk is one request.
BATCH_SIZE = 1000
# Rows per page. MLflow accepts up to 50,000, but each row carries all params and tags:
# 1,000 keeps one response to a few MB.
PAGE_SIZE = 1000
EXPERIMENT_PAGE = 1000

_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_run_id(ref: str) -> bool:
    """MLflow run ids are uuid hex. Anything else cannot exist, and a quote in it would make
    the server reject the whole batch's filter, so such refs are never sent."""
    return bool(_RUN_ID.fullmatch(ref))


def run_id_filter(run_ids: Sequence[str]) -> str:
    return "attributes.run_id IN (" + ",".join(f"'{ref}'" for ref in run_ids) + ")"


def search_runs(
    http: TrackerHttp, experiment_ids: Sequence[str], filter_string: str, page_size: int = PAGE_SIZE
) -> Iterator[dict[str, Any]]:
    """Every run matching the filter, following next_page_token."""
    if not experiment_ids:
        return
    body: dict[str, Any] = {
        "experiment_ids": list(experiment_ids),
        "filter": filter_string,
        "max_results": page_size,
    }
    while True:
        page = obj(http.post(API + "runs/search", body), "MLflow", "a runs/search page", missing_ok=False)
        yield from items(page.get("runs"), "MLflow", "the runs of a runs/search page")  # none: `{}`
        if not page.get("next_page_token"):
            return
        body["page_token"] = page["next_page_token"]


def list_experiments(http: TrackerHttp, page_size: int = EXPERIMENT_PAGE) -> dict[str, str]:
    """Active experiments, id -> name."""
    found: dict[str, str] = {}
    body: dict[str, Any] = {"max_results": page_size}
    while True:
        page = obj(http.post(API + "experiments/search", body), "MLflow", "an experiments/search page", missing_ok=False)
        for experiment in items(page.get("experiments"), "MLflow", "the experiments of an experiments/search page"):
            experiment = obj(experiment, "MLflow", "an experiment", missing_ok=False)
            if not isinstance(experiment.get("experiment_id"), str | int):
                raise MalformedAnswer("MLflow answered an experiment without an experiment_id")
            found[str(experiment["experiment_id"])] = str(experiment.get("name", ""))
        if not page.get("next_page_token"):
            return found
        body["page_token"] = page["next_page_token"]


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
