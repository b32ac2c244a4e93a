"""The poller, first step of the run pipeline: ask each tracker about the runs it must watch,
in as few requests as its API allows, and hand each answer to bot/jobs/record.py.

    poll_once
      -> plan     which connections to ask, for which runs and experiment watches (one read)
      -> per connection, in a bounded thread pool, each claimed first (bot/jobs/claims.py)
         so that no two replicas poll it at once (a thread claims its next connection in the
         transaction that records its last one's answer):
         -> ask      outside any transaction: the runs' snapshots, the experiments' new runs,
                     then the target metrics' new points (targets.fetch_history)
         -> record.record   the answer's meaning, stored in one transaction with its outbox
                     rows and the connection's claim given back
      -> silence.sweep_silent_runs   pushed runs that stopped reporting turn stalled
    then bot/notify/dispatch.py delivers the outbox rows to Slack.

A tracker that fails makes its runs stale: their state never changes because of an outage.
One connection's failure, whatever it is, is that connection's alone: the others are polled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Integer, select, union
from sqlalchemy.orm import Session

from bot.jobs import claims, lease, targets
from bot.jobs.answers import Answer, Work
from bot.jobs.record import record
from bot.jobs.silence import sweep_silent_runs
from bot.metrics import POLL_SECONDS, POLLS
from bot.services import Services
from bot.store import points
from bot.store import runs as q
from bot.store.db import after_commit
from bot.store.models import Connection, Run, Target, Watch, WatchRun
from bot.store.sets import one_of
from integrations.base import Tracker, TrackerError
from integrations.registry import POLLED

log = logging.getLogger(__name__)
POOL_SIZE = 4  # connections polled at once per process: trackers wait on the network, not the CPU
_cache_lock = threading.Lock()  # the tracker cache is shared by the pool's threads


def poll_once(services: Services, due_only: bool = False) -> int:
    """One poll cycle; returns how many runs were updated. Every connection with work that no
    other replica is polling right now is asked once; due_only (the scheduler's tick) asks only
    the connections whose next poll is due, so replicas together poll each once per interval."""
    cycle = Cycle(services, plan(services), due_only)
    workers = min(POOL_SIZE, len(cycle.works))
    updated = 0
    if workers:
        with ThreadPoolExecutor(workers, thread_name_prefix="poll") as pool:
            updated = sum(pool.map(lambda _: cycle.work_through(), range(workers)))
    sweep_silent_runs(services)
    return updated


class Cycle:
    """The connections one poll_once may poll, handed out to its threads one claim at a time."""

    def __init__(self, services: Services, works: list[Work], due_only: bool):
        self.services = services
        self.works = {w.conn.id: w for w in works}
        self.due_only = due_only
        self._left = set(self.works)
        self._lock = threading.Lock()
        every = timedelta(seconds=services.settings.poll_seconds)
        self.ttl = max(3 * every, timedelta(minutes=2))  # a poll longer than this may be taken over

    def work_through(self) -> int:
        updated = 0
        claimed = self._next()
        while claimed is not None:
            connection_id, token = claimed
            handover = Handover(self)
            updated += poll_connection(self.services, self.works[connection_id], token, then=handover)
            # If the answer could not be stored, the next claim rolled back with it: claim anew.
            claimed = handover.claimed if handover.committed else self._next()
        return updated

    def _next(self) -> tuple[int, str] | None:
        with self.services.store.tx() as s:
            return self.take(s)

    def take(self, s: Session) -> tuple[int, str] | None:
        """Claim one of the cycle's connections in `s`; it is no longer the cycle's to hand out
        once `s` has committed. Outside the lock: this process's threads claim at once rather
        than one commit after another, and the database gives two claims distinct rows."""
        with self._lock:
            left = list(self._left)
        claimed = claims.claim_in(s, left, lease.HOLDER, self.services.clock(), self.ttl, self.due_only)
        if claimed is not None:
            after_commit(s, lambda: self._taken(claimed[0]))
        return claimed

    def _taken(self, connection_id: int) -> None:
        with self._lock:
            self._left.discard(connection_id)


class Handover:
    """The next claim of a poll thread, taken in the transaction that records its last answer
    (record's `then`), so a polled connection costs one commit rather than two. It counts only
    once that transaction has committed."""

    def __init__(self, cycle: Cycle):
        self.cycle = cycle
        self.claimed: tuple[int, str] | None = None  # None once committed: nothing left to claim
        self.committed = False

    def __call__(self, s: Session) -> None:
        claimed = self.cycle.take(s)
        after_commit(s, lambda: self._hold(claimed))

    def _hold(self, claimed: tuple[int, str] | None) -> None:
        self.claimed, self.committed = claimed, True


def poll_connection(services: Services, work: Work, claim: str | None = None,
                    then: Callable[[Session], None] | None = None) -> int:
    """Ask one connection and record its answer. Any failure, a tracker's bug included, counts
    as that tracker not answering: its runs turn stale and its next poll backs off. `then` runs
    in the transaction that records the answer (the cycle claims its next connection there)."""
    try:
        return record(services, work, ask(services, work), claim, then)
    except Exception as exc:
        log.exception("poll of connection %s (%s) failed", work.conn.name, work.conn.kind)
        POLLS.labels(work.conn.kind, "error").inc()
        failed = Answer(error=TrackerError(f"unexpected error while polling ({type(exc).__name__})"),
                        asked_at=services.clock())
        try:
            record(services, work, failed, claim)
        except Exception:  # the database itself: the claim runs out and another poll retries
            log.exception("could not mark the runs of connection %s stale", work.conn.name)
        return 0


def plan(services: Services) -> list[Work]:
    """The work of each polled connection, read once: Core rows of the needed columns, not
    ORM runs (the cycle would load all N runs with their JSON only to read two columns)."""
    with services.store.tx() as s:
        # IN, not JOIN + DISTINCT: PostgreSQL cannot compare the json columns DISTINCT needs.
        watched = (select(Run.connection_id, Run.ref)
                   .where(Run.active.is_(True), Run.id.in_(select(WatchRun.run_id)))
                   .order_by(Run.connection_id, Run.id))
        refs = s.execute(watched).all()
        exp_watches = list(s.scalars(select(Watch).where(Watch.is_experiment.is_(True))))
        conn_ids = {cid for cid, _ in refs} | {w.connection_id for w in exp_watches}
        conns = {c.id: c for c in s.scalars(select(Connection).where(one_of(s, Connection.id, conn_ids, Integer())))
                 if c.kind in POLLED} if conn_ids else {}
        with_targets = _with_targets(s) if conns else set()
        claims.ensure(s, list(conns), services.clock())
    work = {cid: Work(conn=conn, refs=[], has_targets=cid in with_targets) for cid, conn in conns.items()}
    for cid, ref in refs:
        if cid in work:
            work[cid].refs.append(ref)
    for watch in exp_watches:
        if watch.connection_id in work:
            work[watch.connection_id].experiments.append(watch)
    return list(work.values())


def _with_targets(s) -> set[int]:  # noqa: ANN001 - a Session
    """Connections that some unmuted target may watch: the others skip all target work."""
    in_channel = (select(Watch.connection_id)
                  .where(Watch.channel_id.in_(select(Target.channel_id).where(Target.scope_connection_id.is_(None),
                                                                                Target.muted_by.is_(None)))))
    scoped = select(Target.scope_connection_id).where(Target.scope_connection_id.is_not(None),
                                                      Target.muted_by.is_(None))
    return set(s.scalars(union(in_channel, scoped)))


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
    if answer.error is None and work.has_targets:
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
    with _cache_lock:
        if key in cache:
            return cache[key]
        for old in [k for k in cache if k[0] == conn.id]:
            del cache[old]
    tracker = services.trackers(q.connection_info(conn, services.box))
    if conn.kind == "push":  # a pushed run's history is what it pushed, kept in our database
        tracker.history = points.reader(services.store, conn.id)
    with _cache_lock:
        return cache.setdefault(key, tracker)
