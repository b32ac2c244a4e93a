"""What happens to a tracker's answer: the second step of the run pipeline.

    poll.poll_once -> poll.ask -> record.record          (a polled connection's answer)
    push.handle_push -> record.record_pushed             (one pushed snapshot)

record() opens one transaction per answer and, in this order: marks the runs stale when the
tracker failed (mark_stale), adopts the new runs of experiment watches (adopt), notes lost
experiments (experiment_lost), evaluates the polled runs' targets on the history poll.ask
fetched (targets.evaluate_polled: one grouped alert per channel), updates each answered run
(update_run) and marks the runs the tracker no longer knows (mark_missing). Messages are posted
in the order they are queued, so this is step order: a crossing in the fetched history comes
before the failure or NaN the newest snapshot shows.

update_run is one run's new snapshot, in this order:
  1. the state machine (bot/core/runs.py): new state, progress time, events;
  2. the store: the run row;
  3. target evaluation: the pushed value (polled runs are evaluated from their history by
     record), and the NaN/inf loss alert;
  4. run-event messages (bot/notify/run_messages.py);
  5. review readiness: a run that just ended may complete its results review.

Every message is an outbox row written in the same transaction as the state that caused it
(bot/notify/outbox.py); bot/notify/dispatch.py delivers it after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.core.eta import estimate_eta
from bot.core.runs import (
    MISSING_AFTER_POLLS,
    Known,
    RunEvent,
    adopted,
    confirm_missing,
    observe,
    vanished,
    with_total,
)
from bot.jobs import claims, reviews, targets
from bot.jobs.answers import Answer, Work
from bot.metrics import RUN_EVENTS
from bot.notify.outbox import enqueue, enqueue_many
from bot.notify.run_messages import notify_channel, notify_run_event, run_event_messages
from bot.services import Services
from bot.store import points, run_batch
from bot.store import runs as q
from bot.store.models import Connection, Run, Watch, WatchRun
from integrations.base import RunSnapshot, RunState, TrackerError
from integrations.registry import POLLED


def record(services: Services, work: Work, answer: Answer, claim: str | None = None,
           then: Callable[[Session], None] | None = None) -> int:
    """Store one connection's answer; returns how many runs were updated. `claim` is the
    connection's poll claim (bot/jobs/claims.py), given back in the same transaction; `then`
    runs last in that transaction (the poll claims its next connection there)."""
    now = services.clock()
    stall_after = _stall_after(services)
    with services.store.tx() as s:
        if answer.error is not None:
            mark_stale(s, work, answer.error, now)
            _release(s, services, work, answer, claim, now, then)
            return 0
        for watch_id, snaps in answer.listed.items():
            adopt(s, watch_id, snaps, now)
        for watch_id, reason in answer.lost.items():
            experiment_lost(s, work.conn, watch_id, reason, now)
        # Read once, for every stage: the targets, the state machine, the messages, the reviews.
        runs = q.runs_by_ref(s, work.conn.id, set(answer.snaps) | set(work.refs))
        # A poll slower than its claim overlaps another replica's: an answer older than what that
        # one recorded since must not undo it (a finished run set back to running stays so).
        runs = {ref: run for ref, run in runs.items() if not _recorded_since(run, answer.asked_at)}
        # The crossings first: they happened at earlier steps than what the answer's snapshot
        # says now (a run that reached its target at step 400 and went NaN or failed at step
        # 500), and the outbox posts in the order rows are written. One alert message per
        # channel for all of the answer's crossings.
        if work.has_targets:
            targets.evaluate_polled(s, services, work.conn, answer, now, runs)
        lookups = Lookups(s, [run.id for run in runs.values()])
        answered = [(run, snap) for ref, snap in answer.snaps.items() if (run := runs.get(ref)) is not None]
        update_runs(s, work.conn, answered, now, stall_after, lookups)
        for ref in work.refs:
            if ref not in answer.snaps and (run := runs.get(ref)) is not None:
                mark_missing(s, work.conn, run, now)
        _release(s, services, work, answer, claim, now, then)
        return len(answered)


class Lookups:
    """What the stages of update_run read about the answer's runs, read for all of them in one
    statement the first time one run needs it (a cycle that finishes 10,000 runs asked for their
    channels and reviews 10,000 times each): the channels watching each run and its reviews."""

    def __init__(self, s: Session, run_ids: list[int]):
        self.s, self.run_ids = s, run_ids
        self._read: tuple[dict[int, list[tuple[str, str]]], dict[int, list[int]]] | None = None

    def channels(self, run_id: int) -> list[tuple[str, str]]:
        return self._both()[0].get(run_id, [])

    def reviews(self, run_id: int) -> list[int]:
        return self._both()[1].get(run_id, [])

    def _both(self) -> tuple[dict[int, list[tuple[str, str]]], dict[int, list[int]]]:
        if self._read is None:
            self._read = q.watchers_of_runs(self.s, self.run_ids, reviews.WATCHED)
        return self._read


def _release(s: Session, services: Services, work: Work, answer: Answer, claim: str | None, now: datetime,
             then: Callable[[Session], None] | None) -> None:
    every = timedelta(seconds=services.settings.poll_seconds)
    claims.release(s, work.conn.id, claim, now, answer.asked_at or now, every, ok=answer.error is None)
    if then is not None:
        then(s)


def record_pushed(services: Services, connection_id: int, snap: RunSnapshot) -> str:
    """A training script's report (POST /api/v1/runs/<ref>); returns the run's state after it."""
    now = services.clock()
    with services.store.tx() as s:
        conn = s.get(Connection, connection_id)
        run, created = q.ensure_run(s, conn.id, snap, now)
        # A script that does not say when it started started when it first reported: the ETA needs one.
        run.started_at = run.started_at or now
        points.record(s, run.id, snap.metrics, snap.step, snap.heartbeat_at or now)  # before a target alert charts it
        if not created:
            update_runs(s, conn, [(run, snap)], now, _stall_after(services))
        return run.state


def update_runs(s: Session, conn: Connection, answered: list[tuple[Run, RunSnapshot]], now: datetime,
                stall_after: timedelta, lookups: Lookups | None = None) -> None:
    """Each answered run's new snapshot, stage by stage for all of them: one UPDATE for the
    runs that changed and one INSERT for their run-event messages, whatever their number."""
    # 1. the state machine, applied in memory
    observed = [(run, *_observe(s, conn, run, snap, now, stall_after)) for run, snap in answered]
    events = [(run, seen) for run, seen, _ in observed]
    # 2. the store: written only when something changed, in one statement
    run_batch.write(s, [run for run, _, changed in observed if changed])
    # 3. target evaluation (a polled run's history is evaluated by record, per answer), before
    #    the run-event messages: posted in step order, a crossing before the end it led to
    for run, snap in answered:
        targets.evaluate_pushed(s, conn, run, snap, now)
        targets.alert_nonfinite(s, conn, run, snap, now)
    # 4. run-event messages
    messages = []
    for run, seen in events:
        for event in seen:
            RUN_EVENTS.labels(event.kind).inc()
            channels = lookups.channels(run.id) if lookups else q.channels_of(s, run.id)
            messages += run_event_messages(conn, run, event.kind, event.episode, channels, now)
    enqueue_many(s, messages, now)
    # 5. review readiness: a run that just ended may complete its results review
    for run, _ in answered:
        if RunState(run.state).is_terminal:
            reviews.run_changed(s, run, now, review_ids=lookups.reviews(run.id) if lookups else None)


def _observe(s: Session, conn: Connection, run: Run, snap: RunSnapshot, now: datetime,
             stall_after: timedelta) -> tuple[tuple[RunEvent, ...], bool]:
    """The state machine's decision (bot/core/runs.py) applied to the run in memory; returns
    the events to tell and whether the run changed (then run_batch.write must store it)."""
    snap = with_total(snap, run.total_steps_override)
    known = Known(RunState(run.state), run.step, run.heartbeat_at, run.progress_at)
    seen = observe(known, snap, now, stall_after)
    values = q.snapshot_values(run, snap, partial=conn.kind not in POLLED)
    values["state"] = seen.state.value
    values["progress_at"] = seen.progress_at
    values["eta"] = _eta(seen.state, values["step"], values["total_steps"], values["started_at"], now)
    if seen.state.is_terminal:
        values["active"] = False  # adaptive polling: a finished run costs nothing any more
    return seen.events, run_batch.assign(s, run, values, now)


def mark_stale(s: Session, work: Work, error: TrackerError, now: datetime) -> None:
    """The tracker did not answer: its runs keep their state and say since when it is unknown.
    A run's data is as old as its connection's last successful poll: runs are stamped only when
    they change, so that time is copied onto the run as it turns stale."""
    last_polled = claims.last_polled(s, work.conn.id)
    for run in q.runs_by_ref(s, work.conn.id, work.refs).values():
        if run.stale_since is None and last_polled is not None:
            run.polled_at = max(filter(None, (run.polled_at, last_polled)))
        run.stale_since = run.stale_since or now
        run.last_error = str(error)[:500]


def mark_missing(s: Session, conn: Connection, run: Run, now: datetime) -> None:
    """The tracker answered without this run. It stays polled, so a restored run comes back.
    Until the absence is confirmed (bot/core/runs.py confirm_missing) the run keeps its state
    and /ready runs says since when the tracker has not listed it; a run seen again in between
    says nothing (apply_snapshot clears the count).

    Written only when something changed (q.touch): absences are counted up to the number the
    confirmation needs, no further, and confirming a run already confirmed gone sets what it has
    already, so a poll that learns nothing new writes nothing."""
    run.stale_since = None  # the tracker does answer: the data is not stale
    run.missing_since = run.missing_since or now
    run.missing_polls = min((run.missing_polls or 0) + 1, MISSING_AFTER_POLLS)
    if not confirm_missing(run.missing_since, run.missing_polls, now):
        q.touch(s, run, now)
        return
    # The first absence names this vanishing: a run that comes back and vanishes again is told again.
    events = vanished(RunState(run.state), run.missing_since)
    run.state = RunState.UNKNOWN.value
    run.eta = None
    run.last_error = f"not found on {conn.name} (deleted?)"
    q.touch(s, run, now)
    for event in events:
        RUN_EVENTS.labels(event.kind).inc()
        notify_run_event(s, conn, run, event.kind, event.episode, now)


def experiment_lost(s: Session, conn: Connection, watch_id: int, reason: str, now: datetime) -> None:
    """Said once per watch: the experiment it names is no longer found by that name."""
    watch = s.get(Watch, watch_id)
    if watch is None:
        return
    enqueue(
        s,
        key=f"experiment-lost:{watch.id}",
        team_id=watch.team_id,
        channel_id=watch.channel_id,
        template="experiment_lost",
        payload={"experiment": watch.ref, "connection": conn.name, "reason": reason[:300]},
        now=now,
    )


def adopt(s: Session, watch_id: int, snaps: list[RunSnapshot], now: datetime) -> None:
    """Experiment watches pick up the runs started since they last looked."""
    watch = s.get(Watch, watch_id)
    if watch is None:
        return
    for snap in snaps:
        run, _ = q.ensure_run(s, watch.connection_id, snap, now)
        is_new = s.get(WatchRun, (watch.id, run.id)) is None
        q.link(s, watch, run)
        run.active = True if not RunState(run.state).is_terminal else run.active
        if is_new:
            # Started and ended between two polls: the channel never saw it run, so say how it ended.
            for event in adopted(RunState(run.state), run.ended_at):
                RUN_EVENTS.labels(event.kind).inc()
                notify_channel(s, s.get(Connection, watch.connection_id), run, event.kind, event.episode,
                               watch.team_id, watch.channel_id, now)
    newest = max((sn.started_at for sn in snaps if sn.started_at), default=None)
    watch.last_listed_at = max(filter(None, (watch.last_listed_at, newest, watch.created_at)))


def _stall_after(services: Services) -> timedelta:
    return timedelta(minutes=services.settings.stall_minutes)


def _recorded_since(run: Run, asked_at: datetime | None) -> bool:
    return asked_at is not None and run.polled_at is not None and run.polled_at > asked_at


def _eta(state: RunState, step: int | None, total_steps: int | None, started_at: datetime | None,
         now: datetime) -> datetime | None:
    if state.is_terminal or not started_at:
        return None
    return estimate_eta(step, total_steps, started_at, now)
