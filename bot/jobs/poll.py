"""The poller, first step of the run pipeline: ask each tracker about the runs it must watch,
in as few requests as its API allows, and hand each answer to bot/jobs/record.py.

    poll_once
      -> plan     which connections to ask, for which runs and experiment watches (one read)
      -> ask      per connection, outside any transaction: the runs' snapshots, the experiments'
                  new runs, then the target metrics' new points (targets.fetch_history)
      -> record.record   the answer's meaning, stored in one transaction with its outbox rows
      -> silence.sweep_silent_runs   pushed runs that stopped reporting turn stalled
    then bot/notify/dispatch.py delivers the outbox rows to Slack.

A tracker that fails makes its runs stale: their state never changes because of an outage.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from bot.jobs import targets
from bot.jobs.answers import Answer, Work
from bot.jobs.record import record
from bot.jobs.silence import sweep_silent_runs
from bot.metrics import POLL_SECONDS, POLLS
from bot.services import Services
from bot.store import points
from bot.store import runs as q
from bot.store.models import Connection, Run, Watch, WatchRun
from integrations.base import Tracker, TrackerError
from integrations.registry import POLLED

log = logging.getLogger(__name__)


def poll_once(services: Services) -> int:
    """One poll cycle over every connection; returns how many runs were updated."""
    updated = 0
    for work in plan(services):
        answer = ask(services, work)
        updated += record(services, work, answer)
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
        fetch_history(services, work, tracker, answer)
    return answer


def fetch_history(services: Services, work: Work, tracker: Tracker, answer: Answer) -> None:
    """The target metrics' new points, outside any transaction. A failure only leaves them out
    of the answer: the runs themselves were answered, so they must not turn stale."""
    try:
        targets.fetch_history(services, work, tracker, answer)
    except TrackerError as exc:
        log.warning("tracker %s (%s): metric history failed: %s", work.conn.name, work.conn.kind, exc)
    except Exception:  # a bug in the history fetch must not stop the poll of every run
        log.exception("metric history fetch failed for %s", work.conn.name)


def tracker_for_connection(services: Services, conn: Connection) -> Tracker:
    """One tracker object per connection for the life of the process: trackers keep caches
    (MLflow's experiment list, TensorBoard's incremental readers) that make later polls cheap.
    A changed URL or credential makes a new one."""
    cache = services.tracker_cache
    key = (conn.id, conn.kind, conn.url, conn.secret_sealed)
    if key not in cache:
        for old in [k for k in cache if k[0] == conn.id]:
            del cache[old]
        cache[key] = services.trackers(q.connection_info(conn, services.box))
        if conn.kind == "push":  # a pushed run's history is what it pushed, kept in our database
            cache[key].history = points.reader(services.store, conn.id)
    return cache[key]
