# A fake W&B public GraphQL API. It follows https://docs.wandb.ai/models/ref/python/public-api and the
# queries of the wandb SDK's public API (wandb/apis/public/runs.py: `Runs` QUERY with RUN_FRAGMENT,
# `Run._sampled_history`, `Runs.convert_objects` -> "Could not find project" on `project: null`).
# Reproduced: POST /graphql with Basic auth user "api" (HTTP 401 otherwise); `config`,
# `summaryMetrics`, `historyKeys` as JSON strings, config values wrapped {"value": ..., "desc": ...};
# zone-less ISO `createdAt`/`heartbeatAt`; `filters` as a JSON *string* evaluated Mongo-style
# ($and $in $eq $gt $gte $lt $lte); cursor pagination honouring `first`; `sampledHistory(specs:)`
# returning one row list per spec; unknown projects as a GraphQL `errors` array (HTTP 200) with
# `project: null` (set `project_errors = False` for null alone, as the SDK handles it).
# The stop request: `mutation stopRun($id: ID!) { stopRun(input: {id: $id}) { clientMutationId success } }`
# as the SDK sends it (https://github.com/wandb/wandb/blob/main/wandb/sdk/internal/internal_api.py,
# `stop_run`), `id` the run's storage id (base64 "Run:v1:<name>:<project>:<entity>", as
# wandb/sdk/launch/sweeps/scheduler.py builds it). Where the SDK says nothing, this fake chose: an
# id that names no run is a GraphQL error "run not found" (HTTP 200, `stopRun: null`); a stop
# sets the run's `stopped` flag (what RunStoppedStatus reads, core/api/graphql/query_run_stop_status.graphql)
# and, as if its process saw that at its next heartbeat, the state "killed" (W&B's state for a run
# stopped before it finished, https://docs.wandb.ai/guides/runs/#run-states); a second stop succeeds
# and changes nothing, as the SDK's `Run.stop` docstring says.
"""Fake Weights & Biases GraphQL server for integration tests."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes import FakeServer, Recorded, Reply

BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class FakeRun:
    entity: str
    project: str
    name: str
    display_name: str
    state: str
    created_at: datetime
    heartbeat_at: datetime
    config: dict[str, Any]
    summary: dict[str, Any]
    history: list[dict[str, Any]]
    user: str = "alice"
    tags: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def storage_id(self) -> str:
        return base64.b64encode(f"Run:v1:{self.name}:{self.project}:{self.entity}".encode()).decode()

    def node(self) -> dict[str, Any]:
        wrapped = {key: {"value": value, "desc": None} for key, value in self.config.items()}
        wrapped["_wandb"] = {"value": {"cli_version": "0.19.1", "python_version": "3.11.7"}, "desc": None}
        keys = sorted({key for row in self.history for key in row})
        history_keys = {
            "keys": {key: {"typeCounts": [{"type": "number", "count": len(self.history)}]} for key in keys},
            "lastStep": self.history[-1]["_step"] if self.history else -1,
        }
        return {
            "id": self.storage_id,
            "name": self.name,
            "displayName": self.display_name,
            "state": self.state,
            "createdAt": _iso(self.created_at),
            "heartbeatAt": _iso(self.heartbeat_at),
            "config": json.dumps(wrapped),
            "summaryMetrics": json.dumps(self.summary),
            "historyKeys": json.dumps(history_keys),
            "user": {"name": self.user.title(), "username": self.user},
            "tags": self.tags,
        }

    def document(self) -> dict[str, Any]:
        """What `filters` are evaluated against."""
        return {
            "name": self.name,
            "displayName": self.display_name,
            "state": self.state,
            "createdAt": self.created_at,
            "heartbeatAt": self.heartbeat_at,
        }


class FilterError(ValueError):
    pass


class WandbServer(FakeServer):
    def __init__(self, api_key: str = "wandb-test-key-0123456789abcdef") -> None:
        super().__init__()
        self.api_key = api_key
        self.runs: dict[tuple[str, str], list[FakeRun]] = {}
        self.forbidden: set[tuple[str, str]] = set()
        self.project_errors = True
        self.stops: list[str] = []  # the `id` of every stopRun mutation received, in order

    # the in-memory world

    def add_project(self, entity: str, project: str) -> None:
        self.runs.setdefault((entity, project), [])

    def add_run(
        self,
        entity: str,
        project: str,
        name: str,
        *,
        state: str = "running",
        summary: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        history: list[dict[str, Any]] | None = None,
        created_at: datetime | None = None,
        heartbeat_at: datetime | None = None,
        display_name: str | None = None,
        user: str = "alice",
    ) -> FakeRun:
        """A run; history rows get `_step` (their index) and `_timestamp` unless given, and the
        summary is derived from the last row the way W&B keeps it, then overlaid with `summary`."""
        runs = self.runs.setdefault((entity, project), [])
        created = created_at or BASE_TIME + timedelta(minutes=sum(len(r) for r in self.runs.values()))
        rows = []
        for index, row in enumerate(history or []):
            row = dict(row)
            row.setdefault("_step", index)
            row.setdefault("_timestamp", (created + timedelta(seconds=10 * row["_step"])).timestamp())
            row.setdefault("_runtime", row["_timestamp"] - created.timestamp())
            rows.append(row)
        derived: dict[str, Any] = {}
        for row in sorted(rows, key=lambda r: r["_step"]):
            derived.update(row)
        derived.update(summary or {})
        last_seen = datetime.fromtimestamp(derived["_timestamp"], UTC) if "_timestamp" in derived else created
        run = FakeRun(
            entity=entity,
            project=project,
            name=name,
            display_name=display_name or f"run-{name}",
            state=state,
            created_at=created,
            heartbeat_at=heartbeat_at or last_seen,
            config=dict(config or {}),
            summary=derived,
            history=rows,
            user=user,
        )
        runs.append(run)
        return run

    # GraphQL

    def handle(self, request: Recorded) -> Reply:
        if request.path != "/graphql":
            return Reply(404, {"error": "not found"})
        if request.method != "POST":
            return Reply(405, {"error": "method not allowed"})
        if not self._authorized(request.headers.get("Authorization", "")):
            return Reply(401, {"errors": [{"message": "user is not logged in"}]})
        body = request.body if isinstance(request.body, dict) else {}
        text, variables = str(body.get("query") or ""), body.get("variables") or {}
        if re.search(r"\bmutation\s+stopRun\b", text):
            return self._stop_run(variables)
        if "sampledHistory" in text:
            return self._sampled_history(variables)
        if re.search(r"\bruns\s*\(", text):
            return self._runs(variables)
        if re.search(r"\bviewer\b", text):
            return Reply(
                200, {"data": {"viewer": {"id": "VXNlcjox", "username": "alice", "entity": "alice"}}}
            )
        return Reply(400, {"errors": [{"message": "fake W&B does not know this query"}]})

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token).decode().partition(":")
        except ValueError:
            return False
        return user == "api" and password == self.api_key

    def _project(self, variables: dict[str, Any]) -> tuple[list[FakeRun] | None, Reply | None]:
        key = (str(variables.get("entity")), str(variables.get("project")))
        if key in self.forbidden:
            message = f"permission denied: entity {key[0]} is not accessible with this key"
            return None, Reply(
                200, {"errors": [{"message": message, "path": ["project"]}], "data": {"project": None}}
            )
        if key not in self.runs:
            if not self.project_errors:
                return None, Reply(200, {"data": {"project": None}})
            message = f"project {key[1]} not found in entity {key[0]}"
            return None, Reply(
                200, {"errors": [{"message": message, "path": ["project"]}], "data": {"project": None}}
            )
        return self.runs[key], None

    def _stop_run(self, variables: dict[str, Any]) -> Reply:
        run_id = variables.get("id")
        self.stops.append(str(run_id))
        run = next((r for runs in self.runs.values() for r in runs if r.storage_id == run_id), None)
        if run is None:
            return Reply(200, {"errors": [{"message": "run not found", "path": ["stopRun"]}],
                               "data": {"stopRun": None}})
        run.stopped = True
        if run.state in ("running", "pending"):
            run.state = "killed"
        return Reply(200, {"data": {"stopRun": {"clientMutationId": None, "success": True}}})

    def _runs(self, variables: dict[str, Any]) -> Reply:
        runs, refusal = self._project(variables)
        if refusal is not None:
            return refusal
        raw_filters = variables.get("filters")
        if raw_filters is not None and not isinstance(raw_filters, str):
            # JSONString is a string scalar: an object here is a client bug W&B rejects.
            return _error('Variable "$filters" got invalid value; Expected type JSONString')
        try:
            filters = json.loads(raw_filters) if raw_filters else {}
            selected = [run for run in runs or [] if matches(run.document(), filters)]
        except (ValueError, FilterError) as exc:
            return _error(f"invalid filters: {exc}")
        descending = str(variables.get("order") or "+created_at").startswith("-")
        selected.sort(key=lambda run: run.created_at, reverse=descending)
        first = int(variables.get("perPage") or 50)
        start = _decode_cursor(variables.get("cursor")) + 1 if variables.get("cursor") else 0
        page = selected[start : start + first]
        edges = [{"node": run.node(), "cursor": _cursor(start + i)} for i, run in enumerate(page)]
        page_info = {
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": start + first < len(selected),
        }
        return Reply(200, {"data": {"project": {"runs": {"edges": edges, "pageInfo": page_info}}}})

    def _sampled_history(self, variables: dict[str, Any]) -> Reply:
        runs, refusal = self._project(variables)
        if refusal is not None:
            return refusal
        run = next((r for r in runs or [] if r.name == variables.get("name")), None)
        if run is None:
            return Reply(200, {"data": {"project": {"run": None}}})
        try:
            specs = [json.loads(spec) for spec in variables.get("specs") or []]
        except (TypeError, ValueError):
            return _error('Variable "$specs" got invalid value; Expected type [JSONString!]!')
        sampled = [_sample(run.history, spec) for spec in specs]
        return Reply(200, {"data": {"project": {"run": {"name": run.name, "sampledHistory": sampled}}}})


def matches(document: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Just enough of W&B's Mongo-style filter language: $and, and per field $in $eq $gt $gte
    $lt $lte or a bare value for equality. Anything else raises, so a client relying on an
    operator this fake does not evaluate finds out."""
    for key, condition in filters.items():
        if key == "$and":
            if not all(matches(document, part) for part in condition):
                return False
        elif key.startswith("$"):
            raise FilterError(f"unsupported operator {key}")
        elif not _test(document.get(key), condition):
            return False
    return True


_OPERATORS = {
    "$eq": lambda value, arg: value == arg,
    "$in": lambda value, arg: value in arg,
    "$gt": lambda value, arg: value is not None and value > arg,
    "$gte": lambda value, arg: value is not None and value >= arg,
    "$lt": lambda value, arg: value is not None and value < arg,
    "$lte": lambda value, arg: value is not None and value <= arg,
}


def _test(value: Any, condition: Any) -> bool:
    if not (isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition)):
        return value == _like(value, condition)
    for op, arg in condition.items():
        if op not in _OPERATORS:
            raise FilterError(f"unsupported operator {op}")
        arg = [_like(value, a) for a in arg] if op == "$in" else _like(value, arg)
        if not _OPERATORS[op](value, arg):
            return False
    return True


def _like(value: Any, arg: Any) -> Any:
    """Dates are stored as dates and compared as dates, whatever ISO form the client sends."""
    if isinstance(value, datetime) and isinstance(arg, str):
        parsed = datetime.fromisoformat(arg.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return arg


def _sample(history: list[dict[str, Any]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(spec.get("keys") or [])
    low, high = spec.get("minStep"), spec.get("maxStep")
    rows = [
        {key: row[key] for key in keys}
        for row in sorted(history, key=lambda r: r["_step"])
        if all(key in row for key in keys)
        and (low is None or row["_step"] >= low)
        and (high is None or row["_step"] < high)
    ]
    samples = int(spec.get("samples") or 500)
    if len(rows) <= samples:
        return rows
    if samples < 2:
        return rows[-1:]
    # Evenly spaced, keeping the first and the last row, as a chart would want.
    picks = sorted({round(i * (len(rows) - 1) / (samples - 1)) for i in range(samples)})
    return [rows[i] for i in picks]


def _error(message: str) -> Reply:
    return Reply(200, {"errors": [{"message": message}], "data": None})


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    return int(base64.b64decode(cursor).decode().split(":", 1)[1])


def _iso(moment: datetime) -> str:
    # W&B sends UTC times without a zone suffix.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
