"""The tracker contract: what every integration returns and raises.

Each tracker folder translates its API's JSON into these types at the edge; the
core never sees a tracker's raw payload.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

# Re-exported: every tracker imports its errors from here.
from integrations.errors import MalformedAnswer, TrackerError  # noqa: F401

if TYPE_CHECKING:
    from integrations.outbound import OutboundPolicy


class RunState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    STALLED = "stalled"  # derived by the core: running, but no sign of life for too long
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in (RunState.FINISHED, RunState.FAILED, RunState.KILLED)


@dataclass(frozen=True)
class MetricPoint:
    step: int
    value: float
    at: datetime  # tz-aware UTC


@dataclass(frozen=True)
class RunSnapshot:
    """One run as a tracker sees it at one moment. All datetimes are tz-aware UTC."""

    ref: str  # the tracker's own run id (MLflow run_id, W&B run name, Comet key, TB subdir)
    state: RunState
    name: str | None = None
    experiment: str | None = None
    step: int | None = None  # newest step seen across metrics
    total_steps: int | None = None  # expected total, from params such as epochs/max_steps
    metrics: Mapping[str, float] = field(default_factory=dict)  # latest value per key
    params: Mapping[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    heartbeat_at: datetime | None = None  # newest sign of life (metric time or heartbeat)
    owner: str | None = None
    url: str | None = None  # the run in the tracker's own UI


@dataclass(frozen=True)
class ConnectionInfo:
    """What an integration needs to reach a tracker; `secret` is already decrypted."""

    kind: str
    name: str
    url: str
    secret: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    outbound: OutboundPolicy | None = None  # where this install lets trackers reach; None: the default


class Tracker(Protocol):
    """One tracker connection. Implementations batch: few requests for many runs."""

    def check(self) -> None:
        """Verify the URL and credentials; raise TrackerError if they do not work."""

    def fetch_runs(self, refs: Sequence[str]) -> dict[str, RunSnapshot]:
        """Snapshots of the given runs, keyed by ref. Refs the tracker does not know are absent."""

    def list_runs(self, experiment: str, since: datetime | None = None) -> list[RunSnapshot]:
        """Runs of an experiment/project, optionally only those started at or after `since`.
        Raise TrackerError(permanent=True) if the experiment does not exist."""

    def metric_history(
        self, refs: Sequence[str], key: str, start_step: int | None = None
    ) -> dict[str, list[MetricPoint]]:
        """Points of one metric per run, ascending by step, from start_step (inclusive) on."""




@dataclass(frozen=True)
class StopAsk:
    """Someone asked from Slack that a run stop: the tracker records who and why where its
    own tools (or the training code) can see it."""

    ref: str
    requested_by: str  # a person's name, for the tracker's UI and the training code
    reason: str = ""
    at: datetime | None = None  # when it was asked (tz-aware UTC): the run's end time where one is set


class Stoppable(Protocol):
    """A tracker that can be told to stop a run (W&B, MLflow). Raise TrackerError when it refuses."""

    def stop_run(self, ask: StopAsk) -> None:
        """Send the stop; returns once the tracker has recorded it, not once the run ended."""
