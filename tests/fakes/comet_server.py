# A fake Comet REST API v2. It follows
# https://www.comet.com/docs/v2/api-and-sdk/rest-api/read-endpoints/,
# with field types as the Java SDK's REST models declare them (ExperimentMetadataRest,
# ValueMinMaxRest, MetricRest in comet-ml/comet-java-sdk).
# Reproduced: base path /api/rest/v2/; `Authorization: <api key>` (raw, no Bearer; HTTP 401
# otherwise); GET account-details, experiment/metadata, experiment/metrics/summary (values as
# STRINGS), experiment/metrics/get-metric (metricValue a string, rows in logged order, NOT sorted),
# experiments?workspaceName=&projectName=; error bodies {"code", "msg"} as the SDKs read them.
# Unverified, chosen here: an unknown experiment key or project answers HTTP 400.
"""Fake Comet REST v2 server for integration tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes import FakeServer, Recorded, Reply

BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class FakeExperiment:
    key: str
    workspace: str
    project: str
    name: str
    running: bool
    crashed: bool
    start_ms: int
    end_ms: int | None
    user: str
    points: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # metric -> get-metric rows

    def metadata(self) -> dict[str, Any]:
        last = max((p["timestamp"] for rows in self.points.values() for p in rows), default=self.start_ms)
        end = self.end_ms if self.end_ms is not None else last
        return {
            "experimentKey": self.key,
            "experimentName": self.name,
            "optimizationId": None,
            "userName": self.user,
            "projectId": f"{self.workspace}-{self.project}-id",
            "projectName": self.project,
            "workspaceName": self.workspace,
            "filePath": "train.py",
            "fileName": "train.py",
            "throttle": False,
            "durationMillis": end - self.start_ms,
            "startTimeMillis": self.start_ms,
            "endTimeMillis": end,
            "archived": False,
            "running": self.running,
            "hasCrashed": self.crashed,
        }

    def summary(self) -> list[dict[str, Any]]:
        values = []
        for name, rows in self.points.items():
            latest = max(rows, key=lambda p: p["timestamp"])
            low, high = min(rows, key=_ordering), max(rows, key=_ordering)
            values.append(
                {
                    "name": name,
                    "valueMax": high["metricValue"],
                    "valueMin": low["metricValue"],
                    "valueCurrent": latest["metricValue"],
                    "timestampMax": high["timestamp"],
                    "timestampMin": low["timestamp"],
                    "timestampCurrent": latest["timestamp"],
                    "runContextMax": None,
                    "runContextMin": None,
                    "runContextCurrent": None,
                    "stepMax": high["step"],
                    "stepMin": low["step"],
                    "stepCurrent": latest["step"],
                    "editable": False,
                }
            )
        return values


class CometServer(FakeServer):
    prefix = "/api/rest/v2/"

    def __init__(self, api_key: str = "comet-test-key-0123456789abcdef") -> None:
        super().__init__()
        self.api_key = api_key
        self.experiments: dict[str, FakeExperiment] = {}
        self.projects: set[tuple[str, str]] = set()
        self.echo_key_in_errors = False  # a worst case for tests: the 401 message repeats the key

    # the in-memory world

    def add_experiment(
        self,
        workspace: str,
        project: str,
        key: str | None = None,
        *,
        name: str | None = None,
        running: bool = True,
        crashed: bool = False,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        metrics: dict[str, list[tuple[Any, ...]]] | None = None,
        user: str = "alice",
    ) -> str:
        """An experiment; `metrics` maps a name to (step, value) or (step, value, datetime)
        points, kept in the order given, which is the order get-metric returns them in."""
        key = key or f"{len(self.experiments) + 1:032x}"
        started = started_at or BASE_TIME + timedelta(minutes=len(self.experiments))
        experiment = FakeExperiment(
            key=key,
            workspace=workspace,
            project=project,
            name=name or f"exp-{key[-4:]}",
            running=running,
            crashed=crashed,
            start_ms=_millis(started),
            end_ms=_millis(ended_at) if ended_at else None,
            user=user,
        )
        for metric, points in (metrics or {}).items():
            experiment.points[metric] = [_row(metric, started, *point) for point in points]
        self.experiments[key] = experiment
        self.projects.add((workspace, project))
        return key

    # REST

    def handle(self, request: Recorded) -> Reply:
        given = request.headers.get("Authorization", "")
        if given != self.api_key:
            message = f"Invalid apiKey {given}" if self.echo_key_in_errors else "Invalid apiKey"
            return Reply(401, {"code": 401, "msg": message})
        route = (request.method, request.path.removeprefix(self.prefix))
        query = {name: values[0] for name, values in request.query.items()}
        if route == ("GET", "account-details"):
            return Reply(200, {"userName": "alice", "defaultWorkspaceName": "alice"})
        if route == ("GET", "experiments"):
            return self._experiments(query)
        experiment_routes = {
            ("GET", "experiment/metadata"): lambda e: e.metadata(),
            ("GET", "experiment/metrics/summary"): lambda e: {"values": e.summary()},
            ("GET", "experiment/metrics/get-metric"): lambda e: {
                "experimentKey": e.key,
                "metrics": e.points.get(query.get("metricName", ""), []),
            },
        }
        if route not in experiment_routes:
            return Reply(404, {"code": 404, "msg": "Not Found"})
        experiment = self.experiments.get(query.get("experimentKey", ""))
        if experiment is None:
            return Reply(400, {"code": 400, "msg": "Invalid experimentKey"})
        return Reply(200, experiment_routes[route](experiment))

    def _experiments(self, query: dict[str, str]) -> Reply:
        wanted = (query.get("workspaceName", ""), query.get("projectName", ""))
        if wanted not in self.projects:
            return Reply(400, {"code": 400, "msg": f"Project {wanted[1]} not found in workspace {wanted[0]}"})
        rows = [e.metadata() for e in self.experiments.values() if (e.workspace, e.project) == wanted]
        return Reply(200, {"experiments": rows})


def _row(
    metric: str, started: datetime, step: int, value: float, at: datetime | None = None
) -> dict[str, Any]:
    moment = at or started + timedelta(seconds=10 * step)
    return {
        "metricName": metric,
        "metricValue": str(value),  # Comet stores and returns metric values as strings
        "timestamp": _millis(moment),
        "step": step,
        "epoch": None,
        "runContext": None,
    }


def _ordering(row: dict[str, Any]) -> tuple[int, float | str]:
    """Numbers by value; text values (Comet accepts them) after all numbers."""
    try:
        return 0, float(row["metricValue"])
    except ValueError:
        return 1, row["metricValue"]


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
