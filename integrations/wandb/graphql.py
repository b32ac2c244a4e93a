"""The W&B GraphQL queries readybot sends, and how their answers turn into errors.

Query text mirrors the SDK's public API (wandb/apis/public/runs.py: `Runs` QUERY with
RUN_FRAGMENT fields, `Run._sampled_history`, `Api.viewer`), trimmed to the fields we read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integrations.base import TrackerError
from integrations.http import TrackerHttp

VIEWER = "query Viewer { viewer { id username entity } }"

RUNS = """
query Runs($project: String!, $entity: String!, $cursor: String, $perPage: Int = 50,
           $order: String, $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
      edges {
        node {
          id name displayName state createdAt heartbeatAt
          config summaryMetrics historyKeys
          user { name username }
        }
        cursor
      }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

SAMPLED_HISTORY = """
query RunSampledHistory($project: String!, $entity: String!, $name: String!, $specs: [JSONString!]!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) { name sampledHistory(specs: $specs) }
  }
}
"""

# The stop request of the W&B App's "Stop run" button and the sweep scheduler, copied from the
# SDK: `Api.stop_run` in
# https://github.com/wandb/wandb/blob/main/wandb/sdk/internal/internal_api.py (the mutation) and
# `Scheduler._stop_run` in https://github.com/wandb/wandb/blob/main/wandb/sdk/launch/sweeps/scheduler.py
# (its `id`: the run's storage id, base64 of "Run:v1:<run name>:<project>:<entity>"). The running
# process learns of it from its heartbeat, the `RunStoppedStatus` query's `stopped` field
# (https://github.com/wandb/wandb/blob/main/core/api/graphql/query_run_stop_status.graphql),
# and shuts the run down itself.
STOP_RUN = """
mutation stopRun($id: ID!) {
  stopRun(input: {
    id: $id
  }) {
    clientMutationId
    success
  }
}
"""

# Messages that no retry will change. W&B's exact wording is not documented (trackers.md marks
# GraphQL errors "unverified"), so match the usual phrasings loosely.
_PERMANENT = re.compile(
    r"not found|does not exist|could not find|permission|not authori[sz]ed|forbidden|"
    r"unauthori[sz]ed|access denied",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(r"not found|does not exist|could not find", re.IGNORECASE)


class ProjectNotFound(TrackerError):
    """The entity/project does not exist (as far as this key can see)."""

    def __init__(self, entity: str, project: str):
        super().__init__(f"W&B project {entity}/{project} not found", permanent=True)


def query(http: TrackerHttp, text: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """POST one GraphQL query; return its `data`, or raise TrackerError.

    GraphQL reports most failures as HTTP 200 with an `errors` array, so a 200 is not
    success until that array is checked. HTTP-level failures (401, 429, 5xx) are TrackerHttp's.
    """
    body = http.post("graphql", {"query": text, "variables": dict(variables)})
    if not isinstance(body, Mapping):
        raise TrackerError("W&B answered with a body that is not a JSON object")
    errors = body.get("errors") or []
    if errors:
        messages = "; ".join(str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors)
        raise TrackerError(
            f"W&B GraphQL error: {messages[:200]}", permanent=bool(_PERMANENT.search(messages))
        )
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise TrackerError("W&B answered without GraphQL data")
    return dict(data)


def project_query(
    http: TrackerHttp, text: str, entity: str, project: str, **variables: Any
) -> dict[str, Any]:
    """A query rooted at `project(name:, entityName:)`; returns that project object.

    An unknown project comes back either as `"project": null` (what the SDK checks for:
    "Could not find project") or as a GraphQL error: both become ProjectNotFound.
    """
    try:
        data = query(http, text, {"entity": entity, "project": project, **variables})
    except TrackerError as exc:
        if exc.permanent and _NOT_FOUND.search(str(exc)):
            raise ProjectNotFound(entity, project) from None
        raise
    node = data.get("project")
    if not isinstance(node, Mapping):
        raise ProjectNotFound(entity, project)
    return dict(node)
