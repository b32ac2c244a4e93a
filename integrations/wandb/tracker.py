"""Weights & Biases tracker: many runs per GraphQL request.

Requests per call (P = projects involved, N = runs):
- fetch_runs: ceil(n_p / PER_PAGE) per project, one `runs(filters: {"name": {"$in": [...]}})`
  query per page; 1 request per project for any team watching up to 100 runs in it.
- list_runs: ceil(matching runs / PER_PAGE).
- metric_history: 1 `sampledHistory` request per run.
- check: 1 `viewer` request.
- stop_run: 1 `stopRun` mutation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from requests.auth import HTTPBasicAuth

from integrations.base import ConnectionInfo, MetricPoint, RunSnapshot, StopAsk, TrackerError
from integrations.http import TrackerHttp
from integrations.shape import items, maybe_run, obj
from integrations.wandb import graphql, translate

# Runs per GraphQL page. The SDK defaults to 50; a page here carries each run's config,
# summary and history keys (a big config is tens of KB), so 100 keeps the worst page to a few MB,
# well inside the request timeout, while one request still covers a typical project's watched runs.
PER_PAGE = 100

# Points per run from sampledHistory: the SDK's default is 500; enough for a chart or a
# threshold check, and W&B downsamples server-side beyond it.
HISTORY_SAMPLES = 1000


class WandbTracker:
    def __init__(self, conn: ConnectionInfo, http: TrackerHttp | None = None):
        url = translate.DEFAULT_API_URL if conn.url in ("", "default") else conn.url
        self.http = http or TrackerHttp(url)
        self.http.guard(conn.outbound)
        self.api_url = self.http.base_url.rstrip("/")
        if conn.secret:
            # Set here even on an injected client: the tracker owns how W&B wants the key presented,
            # HTTP Basic auth with the fixed user "api" and the key as password.
            self.http.session.auth = HTTPBasicAuth("api", conn.secret)
        self.entity = conn.options.get("entity")
        self.project = conn.options.get("project")

    def check(self) -> None:
        data = graphql.query(self.http, graphql.VIEWER, {})
        if not data.get("viewer"):
            # Without a valid key W&B may answer anonymously instead of with a 401.
            raise TrackerError("W&B did not accept the API key", permanent=True)

    def fetch_runs(self, refs: Sequence[str]) -> dict[str, RunSnapshot]:
        groups: dict[tuple[str, str], dict[str, str]] = {}  # (entity, project) -> run name -> ref
        for ref in refs:
            entity, project, name = self._run_path(ref)
            groups.setdefault((entity, project), {})[name] = ref
        snapshots: dict[str, RunSnapshot] = {}
        for (entity, project), names in groups.items():
            filters = {"name": {"$in": list(names)}}
            try:
                for node in self._runs(entity, project, filters):
                    name = node.get("name")
                    ref = names.get(name) if isinstance(name, str) else None
                    if ref is not None and (snap := maybe_run("W&B", self._snapshot, node, ref, entity, project)):
                        snapshots[ref] = snap
            except graphql.ProjectNotFound:
                continue  # runs of a project that does not exist are unknown runs: absent
        return snapshots

    def list_runs(self, experiment: str, since: datetime | None = None) -> list[RunSnapshot]:
        entity, project = self._project_path(experiment)
        filters: dict[str, Any] = {}
        if since is not None:
            # $gte, not $gt: the contract says "started at or after since".
            filters = {"createdAt": {"$gte": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}}
        snapshots = (
            maybe_run("W&B", self._snapshot, node, f"{entity}/{project}/{node.get('name')}", entity, project)
            for node in self._runs(entity, project, filters)
        )
        return [snap for snap in snapshots if snap is not None]

    def metric_history(
        self, refs: Sequence[str], key: str, start_step: int | None = None
    ) -> dict[str, list[MetricPoint]]:
        spec: dict[str, Any] = {"keys": ["_step", "_timestamp", key], "samples": HISTORY_SAMPLES}
        if start_step is not None:
            spec["minStep"] = start_step
        history: dict[str, list[MetricPoint]] = {}
        for ref in refs:
            entity, project, name = self._run_path(ref)
            try:
                node = graphql.project_query(
                    self.http, graphql.SAMPLED_HISTORY, entity, project, name=name, specs=[json.dumps(spec)]
                )
            except graphql.ProjectNotFound:
                continue
            run = obj(node.get("run"), "W&B", "a run")
            if not run:
                continue  # unknown run: absent, as in fetch_runs
            # One list of rows per spec; we send one spec.
            samples = items(run.get("sampledHistory"), "W&B", "a sampledHistory") or [[]]
            history[ref] = translate.history_points(samples[0] or [], key, start_step)
        return history

    def stop_run(self, ask: StopAsk) -> None:
        """The stop W&B's own UI sends (graphql.STOP_RUN); the run's process stops at its next
        heartbeat. W&B's mutation takes no reason or requester, so readybot's channel message
        is where those are said."""
        entity, project, name = self._run_path(ask.ref)
        data = graphql.query(self.http, graphql.STOP_RUN, {"id": storage_id(entity, project, name)})
        answer = data.get("stopRun")
        if not isinstance(answer, dict) or answer.get("success") is not True:
            raise TrackerError(f"W&B did not accept the stop of run {entity}/{project}/{name}", permanent=True)

    def _runs(self, entity: str, project: str, filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every run node matching `filters`, following the cursor page by page."""
        cursor = None
        while True:
            node = graphql.project_query(
                self.http,
                graphql.RUNS,
                entity,
                project,
                cursor=cursor,
                perPage=PER_PAGE,
                order="+created_at",  # a stable order, so pages neither skip nor repeat runs
                filters=json.dumps(filters),  # a JSONString variable: JSON text, not an object
            )
            runs = obj(node.get("runs"), "W&B", "a project's runs")
            for edge in items(runs.get("edges"), "W&B", "the edges of a runs page"):
                yield obj(obj(edge, "W&B", "a runs edge").get("node"), "W&B", "a run")
            page = obj(runs.get("pageInfo"), "W&B", "the pageInfo of a runs page")
            previous, cursor = cursor, page.get("endCursor")
            # A cursor that does not move would page forever: stop rather than hang the poll.
            if not page.get("hasNextPage") or not cursor or cursor == previous:
                return

    def _snapshot(self, node: dict[str, Any], ref: str, entity: str, project: str) -> RunSnapshot:
        return translate.to_snapshot(node, ref=ref, entity=entity, project=project, api_url=self.api_url)

    def _run_path(self, ref: str) -> tuple[str, str, str]:
        """`<entity>/<project>/<run_id>`, or a bare run id under the connection's entity/project."""
        parts = ref.strip("/").split("/")
        if len(parts) == 3 and all(parts):
            return parts[0], parts[1], parts[2]
        if len(parts) == 1 and parts[0] and self.entity and self.project:
            return self.entity, self.project, parts[0]
        raise TrackerError(
            f"W&B run ref {ref!r} should look like <entity>/<project>/<run_id>", permanent=True
        )

    def _project_path(self, experiment: str) -> tuple[str, str]:
        """`<entity>/<project>`, or a bare project under the connection's entity."""
        parts = experiment.strip("/").split("/")
        if len(parts) == 2 and all(parts):
            return parts[0], parts[1]
        if len(parts) == 1 and parts[0] and self.entity:
            return self.entity, parts[0]
        raise TrackerError(
            f"W&B experiment {experiment!r} should look like <entity>/<project>", permanent=True
        )


def storage_id(entity: str, project: str, name: str) -> str:
    """A run's GraphQL `ID`, built the way the SDK's sweep scheduler builds it for stopRun."""
    return base64.standard_b64encode(f"Run:v1:{name}:{project}:{entity}".encode()).decode()
