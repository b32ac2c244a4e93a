"""The poller: ask each tracker about the runs it must watch, in as few requests as its API
allows, then record the new state and the notifications it causes in one transaction.

A tracker that fails makes its runs stale: their state never changes because of an outage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.core.runs import Known, adopted, observe, vanished, with_total
from bot.metrics import POLL_SECONDS, POLLS, RUN_EVENTS
from bot.notify.outbox import enqueue
from bot.services import Services
from bot.store import runs as q
from bot.store.models import Connection, Run, Watch, WatchRun
from integrations.base import MetricPoint, RunSnapshot, RunState, TrackerError
from integrations.registry import POLLED

log = logging.getLogger(__name__)


@dataclass
class Work:
    """What one connection must be asked this cycle."""

    conn: Connection
    refs: list[str]
    experiments: list[Watch] = field(default_factory=list)


@dataclass
class Answer:
    snaps: dict[str, RunSnapshot] = field(default_factory=dict)
    listed: dict[int, list[RunSnapshot]] = field(default_factory=dict)  # watch id -> runs
    lost: dict[int, str] = field(default_factory=dict)  # watch id -> why its experiment is gone
    error: TrackerError | None = None
    # Filled by services.extras["history"] fetchers: metric key -> run ref -> points.
    history: dict[str, dict[str, list[MetricPoint]]] = field(default_factory=dict)
    asked_at: datetime | None = None  # when the tracker was asked


def poll_once(services: Services) -> int:
    """One poll cycle over every connection; returns how many runs were updated."""
    updated = 0
    for work in plan(services):
        answer = ask(services, work)
        updated += record(services, work, answer)
    from bot.jobs.silence import sweep_silent_runs

    sweep_silent_runs(services)
    return updated


def plan(services: Services) -> list[Work]:
    with services.store.tx() as s:
        # IN, not JOIN + DISTINCT: PostgreSQL cannot compare the json columns DISTINCT needs.
        watched = select(Run).where(Run.active.is_(True), Run.id.in_(select(WatchRun.run_id)))
        runs = list(s.scalars(watched))
        exp_watches = list(s.scalars(select(Watch).where(Watch.is_experiment.is_(True))))
        conn_ids = {r.connection_id for r in runs} | {w.connection_id for w in exp_watches}
        conns = {c.id: c for c in s.scalars(select(Connection).where(Connection.id.in_(conn_ids)))} if conn_ids else {}
    work: dict[int, Work] = {}
    for cid, conn in conns.items():
        if conn.kind in POLLED:
            work[cid] = Work(conn=conn, refs=[])
    for run in runs:
        if run.connection_id in work:
            work[run.connection_id].refs.append(run.ref)
    for watch in exp_watches:
        if watch.connection_id in work:
            work[watch.connection_id].experiments.append(watch)
    return list(work.values())


def ask(services: Services, work: Work) -> Answer:
    asked_at = services.clock()
    with POLL_SECONDS.labels(work.conn.kind).time():
        answer = _ask(services, work)
    answer.asked_at = asked_at
    POLLS.labels(work.conn.kind, "error" if answer.error else "ok").inc()
    return answer


def _ask(services: Services, work: Work) -> Answer:
    answer = Answer()
    try:
        tracker = tracker_for_connection(services, work.conn)
        if work.refs:
            answer.snaps = tracker.fetch_runs(work.refs)
        for watch in work.experiments:
            since = watch.last_listed_at or watch.created_at
            try:
                answer.listed[watch.id] = tracker.list_runs(watch.ref, since=since - timedelta(minutes=5))
            except TrackerError as exc:
                if not exc.permanent:
                    raise
                # The experiment was renamed or deleted: that watch's problem alone, not a
                # reason to stop watching every other run of the connection.
                log.warning("tracker %s: experiment watch %s: %s", work.conn.name, watch.id, exc)
                answer.lost[watch.id] = str(exc)
    except TrackerError as exc:
        log.warning("tracker %s (%s) did not answer: %s", work.conn.name, work.conn.kind, exc)
        answer.error = exc
    except ValueError as exc:  # undecryptable credential: the operator changed the key
        answer.error = TrackerError(str(exc), permanent=True)
    if answer.error is None:
        fetch_more(services, work, tracker, answer)
    return answer


def fetch_more(services: Services, work: Work, tracker, answer: Answer) -> None:  # noqa: ANN001
    """Extension point: features needing more than snapshots (target alerts read metric history)
    fetch it here, outside any transaction. A failure only leaves it out of the answer: the
    runs themselves were answered, so they must not turn stale."""
    for fetch in services.extras.get("history", ()):
        try:
            fetch(services, work, tracker, answer)
        except TrackerError as exc:
            log.warning("tracker %s (%s): extra fetch failed: %s", work.conn.name, work.conn.kind, exc)
        except Exception:  # a bug in one feature's fetch must not stop the poll of every run
            log.exception("extra fetch %s failed for %s", getattr(fetch, "__name__", fetch), work.conn.name)


def tracker_for_connection(services: Services, conn: Connection):  # noqa: ANN201
    """One tracker object per connection for the life of the process: trackers keep caches
    (MLflow's experiment list, TensorBoard's incremental readers) that make later polls cheap.
    A changed URL or credential makes a new one."""
    cache = services.extras.setdefault("tracker_cache", {})
    key = (conn.id, conn.kind, conn.url, conn.secret_sealed)
    if key not in cache:
        for old in [k for k in cache if k[0] == conn.id]:
            del cache[old]
        cache[key] = services.trackers(q.connection_info(conn, services.box))
        if conn.kind == "push":  # a pushed run's history is what it pushed, kept in our database
            from bot.store.points import reader

            cache[key].history = reader(services.store, conn.id)
    return cache[key]


def record(services: Services, work: Work, answer: Answer) -> int:
    now = services.clock()
    stall_after = timedelta(minutes=services.settings.stall_minutes)
    with services.store.tx() as s:
        if answer.error is not None:
            mark_stale(s, work, answer.error, now)
            return 0
        for watch_id, snaps in answer.listed.items():
            adopt(s, watch_id, snaps, now)
        for watch_id, reason in answer.lost.items():
            experiment_lost(s, work.conn, watch_id, reason, now)
        count = 0
        runs = q.runs_by_ref(s, work.conn.id, set(answer.snaps) | set(work.refs))
        # A poll slower than its lease overlaps another replica's: an answer older than what that
        # one recorded since must not undo it (a finished run set back to running stays so).
        runs = {ref: run for ref, run in runs.items() if not _recorded_since(run, answer.asked_at)}
        for ref, snap in answer.snaps.items():
            if (run := runs.get(ref)) is not None:
                update_run(s, services, work.conn, run, snap, now, stall_after)
                count += 1
        for ref in work.refs:
            if ref not in answer.snaps and (run := runs.get(ref)) is not None:
                mark_missing(s, work.conn, run, now)
        # Extension point: hooks that look at the whole answer (e.g. group alerts per channel).
        for hook in services.extras.get("after_record", ()):
            hook(s, services, work.conn, answer, now)
        return count


def _recorded_since(run: Run, asked_at: datetime | None) -> bool:
    return asked_at is not None and run.polled_at is not None and run.polled_at > asked_at


def mark_stale(s, work: Work, error: TrackerError, now: datetime) -> None:  # noqa: ANN001
    for run in s.scalars(select(Run).where(Run.connection_id == work.conn.id, Run.ref.in_(work.refs))):
        run.stale_since = run.stale_since or now
        run.last_error = str(error)[:500]


def mark_missing(s, conn: Connection, run: Run, now: datetime) -> None:  # noqa: ANN001
    """The tracker answered without this run. It stays polled, so a restored run comes back."""
    events = vanished(RunState(run.state))
    run.state = RunState.UNKNOWN.value
    run.eta = None
    run.polled_at = now
    run.stale_since = None  # the tracker does answer: the data is not stale, the run is gone
    run.last_error = f"not found on {conn.name} (deleted?)"
    for event in events:
        RUN_EVENTS.labels(event.kind).inc()
        notify_run_event(s, conn, run, event.kind, event.episode, now)


def experiment_lost(s, conn: Connection, watch_id: int, reason: str, now: datetime) -> None:  # noqa: ANN001
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


def adopt(s, watch_id: int, snaps: list[RunSnapshot], now: datetime) -> None:  # noqa: ANN001
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
            for event in adopted(RunState(run.state)):
                RUN_EVENTS.labels(event.kind).inc()
                notify_channel(s, s.get(Connection, watch.connection_id), run, event.kind, event.episode,
                               watch.team_id, watch.channel_id, now)
    newest = max((sn.started_at for sn in snaps if sn.started_at), default=None)
    watch.last_listed_at = max(filter(None, (watch.last_listed_at, newest, watch.created_at)))


def update_run(s, services: Services, conn: Connection, run: Run, snap: RunSnapshot, now, stall_after) -> None:  # noqa: ANN001
    snap = with_total(snap, run.total_steps_override)
    known = Known(RunState(run.state), run.step, run.heartbeat_at, run.progress_at)
    seen = observe(known, snap, now, stall_after)
    q.apply_snapshot(run, snap, now, partial=conn.kind not in POLLED)
    run.state = seen.state.value
    run.progress_at = seen.progress_at
    run.eta = _eta(run, now)
    if seen.state.is_terminal:
        run.active = False  # adaptive polling: a finished run costs nothing any more
    for event in seen.events:
        RUN_EVENTS.labels(event.kind).inc()
        notify_run_event(s, conn, run, event.kind, event.episode, now)
    for hook in services.extras.get("after_run_update", ()):
        hook(s, services, conn, run, snap, now)


def _eta(run: Run, now: datetime) -> datetime | None:
    from bot.core.eta import estimate_eta

    if RunState(run.state).is_terminal or not run.started_at:
        return None
    return estimate_eta(run.step, run.total_steps, run.started_at, now)


def notify_run_event(s, conn: Connection, run: Run, kind: str, episode: str, now: datetime) -> None:  # noqa: ANN001
    for team_id, channel_id in q.channels_of(s, run.id):
        notify_channel(s, conn, run, kind, episode, team_id, channel_id, now)


def notify_channel(s, conn: Connection, run: Run, kind: str, episode: str, team_id: str, channel_id: str,  # noqa: ANN001
                   now: datetime) -> None:
    payload = run_payload(conn, run, now)
    payload["event"] = kind
    enqueue(
        s,
        key=f"run:{run.id}:{kind}:{episode}:{channel_id}",
        team_id=team_id,
        channel_id=channel_id,
        template="run_event",
        payload=payload,
        now=now,
    )


def run_payload(conn: Connection, run: Run, now: datetime) -> dict:
    duration = None
    if run.started_at:
        duration = ((run.ended_at or now) - run.started_at).total_seconds()
    return {
        "run": {
            "id": run.id,
            "ref": run.ref,
            "name": run.name or run.ref,
            "experiment": run.experiment,
            "url": run.url,
            "owner": run.owner,
            "state": run.state,
            "step": run.step,
            "total_steps": run.total_steps,
            "metrics": dict(sorted((run.metrics or {}).items())[:20]),
            "duration_s": duration,
            "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
        },
        "connection": conn.name,
    }
