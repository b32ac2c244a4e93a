"""Run states over time: what a new snapshot means compared with what we knew.

Pure: the caller passes what is stored, the new snapshot and `now`; nothing here
touches Slack or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from integrations.base import RunSnapshot, RunState


@dataclass(frozen=True)
class Known:
    """What we stored about a run after the previous poll."""

    state: RunState
    step: int | None = None
    heartbeat_at: datetime | None = None
    progress_at: datetime | None = None  # when we last saw the run move


@dataclass(frozen=True)
class RunEvent:
    kind: str  # finished | failed | killed | stalled | recovered | missing
    # Identifies the episode, so the same cause seen again maps to the same outbox key while a
    # second occurrence (a restarted run's second finish) is a new message. stalled/recovered:
    # the last sign of life; an end: the tracker's end time (else its newest sign of life);
    # missing: when the tracker last listed the run. All come from stored or tracker data, not
    # the poller's clock, so two replicas recording the same answer agree on the key.
    since: datetime | None

    @property
    def episode(self) -> str:
        return self.since.isoformat() if self.since else "-"


@dataclass(frozen=True)
class Observed:
    state: RunState
    progress_at: datetime
    events: tuple[RunEvent, ...]


NOTIFY_ON_ENTER = {
    RunState.FINISHED: "finished",
    RunState.FAILED: "failed",
    RunState.KILLED: "killed",
    RunState.STALLED: "stalled",
}


def observe(known: Known | None, snap: RunSnapshot, now: datetime, stall_after: timedelta) -> Observed:
    progress_at = _progress_at(known, snap, now)
    alive_at = max(filter(None, (snap.heartbeat_at, progress_at)))
    state = snap.state
    if state is RunState.RUNNING and now - alive_at > stall_after:
        state = RunState.STALLED
    if known is None:
        # First sight: the person who tracked it already sees its state in the reply.
        return Observed(state, progress_at, ())
    return Observed(state, progress_at, _events(known.state, state, alive_at, snap))


def adopted(state: RunState, ended_at: datetime | None = None) -> tuple[RunEvent, ...]:
    """A run an experiment watch picks up already ended (it started and ended between two
    polls): nobody has seen it, so its end is news, unlike a run tracked by hand."""
    if state.is_terminal:
        return (RunEvent(NOTIFY_ON_ENTER[state], ended_at),)
    return ()


# "Not found" is believed only when it repeats: one empty or short answer (`200 {}`, a replica
# that lags behind) must not tell a channel its run is gone while it trains on (issue 12). Three
# successful answers in a row without the run, the first at least ten minutes before the last,
# so a fast poll interval cannot confirm it within a minute either.
MISSING_AFTER_POLLS = 3
MISSING_AFTER = timedelta(minutes=10)


def confirm_missing(missing_since: datetime, missing_polls: int, now: datetime) -> bool:
    """Whether a run absent from `missing_polls` answers in a row since `missing_since` is gone."""
    return missing_polls >= MISSING_AFTER_POLLS and now - missing_since >= MISSING_AFTER


def vanished(before: RunState, last_seen: datetime | None = None) -> tuple[RunEvent, ...]:
    """The tracker answered but no longer knows the run (deleted, or its experiment was): its
    state becomes unknown, said once. An outage is different: it only makes data stale.
    `last_seen` (when the tracker last listed the run) tells one vanishing from the next."""
    if before is RunState.UNKNOWN:
        return ()
    return (RunEvent("missing", last_seen),)


def _progress_at(known: Known | None, snap: RunSnapshot, now: datetime) -> datetime:
    if known is None or known.progress_at is None:
        return now
    moved = snap.step != known.step or (
        snap.heartbeat_at is not None and (known.heartbeat_at is None or snap.heartbeat_at > known.heartbeat_at)
    )
    return now if moved else known.progress_at


def _events(before: RunState, after: RunState, alive_at: datetime, snap: RunSnapshot) -> tuple[RunEvent, ...]:
    if before == after:
        return ()
    if after is RunState.STALLED:
        return (RunEvent("stalled", alive_at),)
    if after in NOTIFY_ON_ENTER:
        return (RunEvent(NOTIFY_ON_ENTER[after], snap.ended_at or snap.heartbeat_at or alive_at),)
    if before is RunState.STALLED and after is RunState.RUNNING:
        return (RunEvent("recovered", alive_at),)
    return ()


def with_total(snap: RunSnapshot, override: int | None) -> RunSnapshot:
    """The expected total given with `/ready track ... steps N` beats what the tracker guessed."""
    return replace(snap, total_steps=override) if override else snap


def staleness(polled_at: datetime | None, stale_since: datetime | None, now: datetime) -> timedelta | None:
    """How old our data is when the tracker is not answering; None while it answers."""
    if stale_since is None:
        return None
    return now - (polled_at or stale_since)
