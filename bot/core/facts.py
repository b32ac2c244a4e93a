"""Plain, detached views of stored runs, alerts, targets and reviews for the pure digest and
standup assembly (the core never sees ORM objects or sessions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunFacts:
    id: int
    name: str
    state: str
    connection: str = ""
    url: str | None = None
    owner: str | None = None  # as the tracker names them; shown as a person at the Slack edge
    kind: str = ""  # the connection's kind (mlflow, wandb...): `/ready me` claims may name it
    step: int | None = None
    total_steps: int | None = None
    eta: datetime | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    updated_at: datetime | None = None
    progress_at: datetime | None = None
    stale_since: datetime | None = None

    @property
    def changed_at(self) -> datetime | None:
        """When the run last reached its current state (terminal runs: when they ended)."""
        return self.ended_at or self.updated_at


@dataclass(frozen=True)
class AlertFacts:
    run_id: int
    metric: str
    op: str
    threshold: float
    value: float
    step: int
    at: datetime


@dataclass(frozen=True)
class TargetFacts:
    id: int
    metric: str
    op: str
    threshold: float
    patience: int = 1
    run_ids: tuple[int, ...] = ()  # the channel runs in the target's scope
    bests: dict[int, float] = field(default_factory=dict)  # run id -> best value seen while polling


@dataclass(frozen=True)
class ReviewFacts:
    id: int
    title: str
    at: datetime
    state: str
    run_states: tuple[str, ...] = ()
