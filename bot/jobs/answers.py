"""What one poll asks a tracker (Work) and what the tracker answered (Answer).

The two records handed from bot/jobs/poll.py (which fills them) to bot/jobs/record.py (which
stores what they mean); they live apart so that neither step imports the other's module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.store.models import Connection, Watch
from integrations.base import MetricPoint, RunSnapshot, TrackerError


@dataclass
class Work:
    """What one connection must be asked this cycle."""

    conn: Connection
    refs: list[str]
    experiments: list[Watch] = field(default_factory=list)
    has_targets: bool = True  # False: no target can watch these runs, so no target work at all


@dataclass
class Answer:
    snaps: dict[str, RunSnapshot] = field(default_factory=dict)
    listed: dict[int, list[RunSnapshot]] = field(default_factory=dict)  # watch id -> runs
    lost: dict[int, str] = field(default_factory=dict)  # watch id -> why its experiment is gone
    error: TrackerError | None = None
    # The target metrics' new points (bot.jobs.targets.fetch_history): metric key -> run ref -> points.
    history: dict[str, dict[str, list[MetricPoint]]] = field(default_factory=dict)
    asked_at: datetime | None = None  # when the tracker was asked
