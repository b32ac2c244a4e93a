"""Comet tracker over REST API v2 (https://www.comet.com/docs/v2/api-and-sdk/rest-api/).

What polling costs, honestly: Comet v2 has no "many experiments' status and latest metrics"
read. `experiment/metadata` (state, times) and `experiment/metrics/summary` (latest value per
metric) each take one experiment key, so fetch_runs costs 2 requests per experiment: 2N for N.
`POST experiments/multi-metric-chart` does take many keys, but only for metric names given up
front, and it answers with the series (about 500 sampled points per metric, or up to 15,000),
not the latest values: for polling it moves more data, not less. Lower-cost options left open:
one `experiments?workspaceName=&projectName=` per project for state (needs refs that carry
their project), and parallel requests.

- fetch_runs: 2N.   - list_runs: 1 + M (M = experiments started since `since`).
- metric_history: N (`experiment/metrics/get-metric`).   - check: 1 (`account-details`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from integrations.base import ConnectionInfo, MetricPoint, RunSnapshot, TrackerError
from integrations.comet import translate
from integrations.http import TrackerHttp
from integrations.shape import items, maybe_run, obj

DEFAULT_API_URL = "https://www.comet.com/api/rest/v2/"
API_PATH = "/api/rest/v2/"

# How Comet says "no such experiment": 400 with a message in practice, 404 in principle
# (the exact status is unverified), either way an unknown ref rather than a broken connection.
UNKNOWN_STATUSES = (400, 404)


class CometTracker:
    def __init__(self, conn: ConnectionInfo, http: TrackerHttp | None = None):
        url = DEFAULT_API_URL if conn.url in ("", "default") else conn.url
        self.http = http or TrackerHttp(url)
        self.http.guard(conn.outbound)
        if conn.secret:
            # The raw key, no "Bearer": that is what Comet's REST API expects.
            self.http.session.headers["Authorization"] = conn.secret
        self.ui_url = ui_url(self.http.base_url)

    def check(self) -> None:
        self.http.get("account-details")

    def fetch_runs(self, refs: Sequence[str]) -> dict[str, RunSnapshot]:
        snapshots = {}
        for ref in dict.fromkeys(refs):  # each experiment once, even if asked for twice
            metadata = self._get_known("experiment/metadata", ref)
            if metadata is not None:
                snap = maybe_run("Comet", translate.to_snapshot, ref, metadata, self._summary(ref), self.ui_url)
                if snap is not None:
                    snapshots[ref] = snap
        return snapshots

    def list_runs(self, experiment: str, since: datetime | None = None) -> list[RunSnapshot]:
        workspace, _, project = experiment.strip("/").partition("/")
        if not workspace or not project or "/" in project:
            raise TrackerError(
                f"Comet experiment {experiment!r} should look like <workspace>/<project>", permanent=True
            )
        # An unknown project is an HTTP error (400, unverified), which TrackerHttp makes permanent.
        # Each row carries the same fields as experiment/metadata, so state needs no extra request.
        body = self.http.get("experiments", {"workspaceName": workspace, "projectName": project})
        rows = items(obj(body, "Comet", "an experiments list").get("experiments"), "Comet", "an experiments list")
        wanted = []
        for row in rows:
            row = obj(row, "Comet", "an experiment row")
            started = translate.from_millis(row.get("startTimeMillis"))
            key = row.get("experimentKey")
            if not isinstance(key, str) or not key or (since is not None and (started is None or started < since)):
                continue  # the endpoint has no time filter: filter here, before the costly part
            wanted.append((key, row))
        snapshots = (
            maybe_run("Comet", translate.to_snapshot, key, row, self._summary(key), self.ui_url) for key, row in wanted
        )
        return [snap for snap in snapshots if snap is not None]

    def metric_history(
        self, refs: Sequence[str], key: str, start_step: int | None = None
    ) -> dict[str, list[MetricPoint]]:
        history = {}
        for ref in dict.fromkeys(refs):
            body = self._get_known("experiment/metrics/get-metric", ref, metricName=key)
            if body is not None:
                history[ref] = translate.history_points(body.get("metrics"), start_step)
        return history

    def _summary(self, ref: str) -> list[dict[str, Any]]:
        body = self._get_known("experiment/metrics/summary", ref)
        return items((body or {}).get("values"), "Comet", "a metrics summary")

    def _get_known(self, path: str, ref: str, **params: str) -> dict[str, Any] | None:
        """GET for one experiment; None if Comet does not know the key."""
        try:
            body = self.http.get(path, {"experimentKey": ref, **params})
        except TrackerError as exc:
            if exc.status in UNKNOWN_STATUSES:
                return None
            raise
        return body if isinstance(body, dict) else {}


def ui_url(api_url: str) -> str:
    """https://www.comet.com/api/rest/v2/ -> https://www.comet.com (same host when self-hosted)."""
    head, found, _ = api_url.partition(API_PATH)
    if found:
        return head
    parts = urlsplit(api_url)
    return f"{parts.scheme}://{parts.netloc}"
