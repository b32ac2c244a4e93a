"""Results reviews: is a meeting's evidence in, and what should happen next. Pure; `now` passed in.

A review is ready when every run it is about has finished. A failed or killed run will never
finish, so it turns the review into "not ready, needs a decision" instead of a wait.

Two checkpoints before the meeting ask the question out loud: at the review's lead time
(default 2 h) and again 15 minutes before. Each is identified by the meeting time it belongs
to, so a postponed review gets fresh checkpoints at its new time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

SCHEDULED, WAITING, READY, POSTPONED = "scheduled", "waiting", "ready", "postponed"
HELD, CANCELLED, DONE = "held", "cancelled", "done"
STATES = (SCHEDULED, WAITING, READY, POSTPONED, HELD, CANCELLED, DONE)
# Before the meeting: the reviews the readiness job still looks after.
UPCOMING = frozenset({SCHEDULED, WAITING, READY, POSTPONED, HELD})

# Which state changes make sense; anything else is a stale button or a repeated command.
_ALLOWED: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({WAITING, READY, POSTPONED, HELD, CANCELLED, DONE}),
    WAITING: frozenset({READY, POSTPONED, HELD, CANCELLED, DONE}),
    POSTPONED: frozenset({WAITING, READY, POSTPONED, HELD, CANCELLED, DONE}),
    HELD: frozenset({READY, POSTPONED, CANCELLED, DONE}),
    READY: frozenset({CANCELLED, DONE}),
    CANCELLED: frozenset(),
    DONE: frozenset(),
}

WARN, AUTO_POSTPONE = "warn", "auto_postpone"  # per-review policy
POLICIES = (WARN, AUTO_POSTPONE)
DEFAULT_LEAD = timedelta(hours=2)
FINAL_CALL = timedelta(minutes=15)
DEFAULT_BUFFER = timedelta(minutes=30)
ROUND_TO = timedelta(minutes=5)  # postponed meetings start on a 5-minute mark

FINISHED_STATES = frozenset({"finished"})
BROKEN_STATES = frozenset({"failed", "killed"})


def can_change(current: str, new: str) -> bool:
    return new in _ALLOWED.get(current, frozenset())


@dataclass(frozen=True)
class RunStatus:
    """What readiness needs to know about one run (the caller copies it from storage)."""

    name: str
    state: str
    step: int | None = None
    total_steps: int | None = None
    eta: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def broken(self) -> bool:
        return self.state in BROKEN_STATES

    @property
    def known_eta(self) -> datetime | None:
        # Only a running run's ETA means anything: a stalled one is not moving, a queued one
        # has not started, and the last rate of either says nothing about when it will end.
        return self.eta if self.state == "running" else None


class Verdict(StrEnum):
    READY = "ready"
    WAITING = "waiting"
    DECIDE = "needs_decision"


@dataclass(frozen=True)
class Readiness:
    verdict: Verdict
    waiting_on: tuple[RunStatus, ...]  # still to finish
    broken: tuple[RunStatus, ...]  # failed or killed: will never finish
    finished: int
    latest_eta: datetime | None  # of waiting_on; None when empty or any ETA is unknown

    @property
    def total(self) -> int:
        return self.finished + len(self.waiting_on) + len(self.broken)


def readiness(runs: Sequence[RunStatus]) -> Readiness:
    waiting = tuple(r for r in runs if not r.finished and not r.broken)
    broken = tuple(r for r in runs if r.broken)
    finished = sum(1 for r in runs if r.finished)
    etas = [r.known_eta for r in waiting]
    latest = max(etas) if etas and all(e is not None for e in etas) else None  # type: ignore[type-var]
    if broken:
        verdict = Verdict.DECIDE
    elif waiting:
        verdict = Verdict.WAITING
    else:
        verdict = Verdict.READY
    return Readiness(verdict, waiting, broken, finished, latest)


def due_checkpoint(at: datetime, lead: timedelta, now: datetime) -> str | None:
    """"lead" from `at - lead`, "final" from `at - 15 min` (or `at - lead` if that is later), None
    before that and once `at` is here.

    A lead shorter than 15 minutes has only the final call, at the lead the user asked for.
    """
    if now >= at:
        return None
    if now >= at - min(FINAL_CALL, lead):
        return "final"
    if lead > FINAL_CALL and now >= at - lead:
        return "lead"
    return None


def postpone_to(latest_eta: datetime, buffer: timedelta, now: datetime) -> datetime:
    """The latest ETA plus a buffer to read the results, rounded up to a 5-minute mark."""
    target = max(latest_eta, now) + buffer
    return round_up(target, ROUND_TO)


def round_up(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    steps = math.ceil((moment - epoch) / step)
    return (epoch + steps * step).astimezone(moment.tzinfo)


@dataclass(frozen=True)
class Step:
    """What the readiness job should do with one review now."""

    kind: str  # none | results | done | warn | auto_postpone
    checkpoint: str | None = None
    new_at: datetime | None = None


NOTHING = Step("none")


@dataclass(frozen=True)
class Plan:
    """A review as the job sees it."""

    state: str
    policy: str
    at: datetime
    lead: timedelta
    buffer: timedelta


def next_step(plan: Plan, ready: Readiness, now: datetime) -> Step:
    """Results as soon as they are in; nothing after the meeting; otherwise warn (or, under the
    auto policy, postpone) at each checkpoint while the runs are not done."""
    if plan.state == DONE:
        # A meeting held without results still wants them when they arrive.
        return Step("results") if ready.verdict is Verdict.READY else NOTHING
    if plan.state not in UPCOMING:
        return NOTHING
    if ready.verdict is Verdict.READY and plan.state != READY:
        return Step("results")
    if now >= plan.at:
        return Step("done")
    if plan.state in (READY, HELD):  # nothing missing, or the team chose to meet anyway
        return NOTHING
    checkpoint = due_checkpoint(plan.at, plan.lead, now)
    if checkpoint is None:
        return NOTHING
    new_at = auto_postpone_to(plan, ready, now)
    if new_at is not None:
        return Step("auto_postpone", checkpoint, new_at)
    return Step("warn", checkpoint)


def auto_postpone_to(plan: Plan, ready: Readiness, now: datetime) -> datetime | None:
    """Only runs that are merely slow are waited for automatically: a broken run or an unknown
    ETA needs a person to decide."""
    if plan.policy != AUTO_POSTPONE or ready.verdict is not Verdict.WAITING or ready.latest_eta is None:
        return None
    new_at = postpone_to(ready.latest_eta, plan.buffer, now)
    return new_at if new_at > plan.at else None


def manual_postpone_to(plan: Plan, ready: Readiness, now: datetime) -> datetime:
    """Where "Postpone to ETA" moves the meeting; ValueError says why it cannot."""
    if ready.verdict is Verdict.READY:
        raise ValueError("all runs have finished: the results are ready")
    if not ready.waiting_on:
        raise ValueError("no run is still going: there is no ETA to wait for")
    if ready.latest_eta is None:
        raise ValueError("the ETA of a run is unknown")
    new_at = postpone_to(ready.latest_eta, plan.buffer, now)
    if new_at <= plan.at:
        raise ValueError("the runs should finish in time for the meeting")
    return new_at
