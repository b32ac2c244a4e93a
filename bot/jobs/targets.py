"""Target alerts in the run pipeline, for polled and pushed runs, and NaN/inf loss alerts.

The work is split at the transaction boundary, because tracker calls must not hold a database
transaction open:
- fetch_history (called by poll.ask, no transaction): for each polled run, the new points of
  each target metric, from the step after the last one evaluated; one tracker call per metric key.
- evaluate_polled (called by record.record, inside the transaction that stores the runs' new
  state): feeds those points to the pure evaluator, stores progress, records each crossing as a
  unique Alert row and queues one message per channel, with a chart per run in its thread.
- evaluate_pushed and alert_nonfinite (called by record.update_run): pushed runs have no
  history to fetch; the pushed value is the one new point at the pushed step, and a crossing's
  chart draws the points the push path kept (run_points).

Exactly-once comes from the database, not from this process: the Alert row is unique per
(target, run, crossing) and is inserted in the same transaction as the outbox rows.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.core.targets import Crossing, Rule, TargetProgress, evaluate, nonfinite
from bot.jobs import forecasts
from bot.jobs.answers import Answer, Work
from bot.notify import target_alert as msg
from bot.notify.outbox import enqueue
from bot.notify.run_messages import run_payload
from bot.services import Services
from bot.store import points as kept
from bot.store import runs as q
from bot.store import targets as store
from bot.store.models import Alert, Connection, Run, Target
from bot.store.models import TargetProgress as TargetProgressRow
from integrations.base import MetricPoint, RunSnapshot, Tracker
from integrations.registry import POLLED

log = logging.getLogger(__name__)

MAX_ALERTS_PER_MESSAGE = 10  # 4 blocks each keeps a grouped message under Slack's 50 blocks


# --- ask phase: fetch history outside any transaction ---------------------------------------


@dataclass(frozen=True)
class Want:
    ref: str
    key: str
    rule: Rule
    progress: TargetProgress

    @property
    def start(self) -> int | None:
        # Inclusive: a value logged again at the last step (MLflow's step 0 when none is given)
        # is new if it is later; the evaluator skips the points it has already seen.
        return self.progress.last_step


def fetch_history(services: Services, work: Work, tracker: Tracker, answer: Answer) -> None:
    """Fill answer.history[key][ref] with the points the targets need this cycle."""
    by_key: dict[str, list[Want]] = defaultdict(list)
    for want in wanted(services, work.conn.id, answer.snaps):
        by_key[want.key].append(want)
    for key, wants in by_key.items():
        starts: dict[str, int | None] = {}
        for w in wants:
            starts[w.ref] = _earlier(starts[w.ref], w.start) if w.ref in starts else w.start
        first = None if None in starts.values() else min(starts.values())
        points = tracker.metric_history(list(starts), key, first)
        # A crossing gets a chart of the run's whole history, so read it all, but only then:
        # that is rare, and a full history on every poll would be costly for long runs.
        full = [w.ref for w in wants if starts[w.ref] is not None and _will_cross(w, points.get(w.ref, []))]
        if full:
            points.update(tracker.metric_history(list(dict.fromkeys(full)), key, None))
        answer.history[key] = points


def wanted(services: Services, connection_id: int, snaps: dict[str, RunSnapshot]) -> list[Want]:
    found: list[Want] = []
    with services.store.tx() as s:
        runs = q.runs_by_ref(s, connection_id, snaps)
        targets = store.targets_for_runs(s, list(runs.values()))
        pairs = {(t.id, run.id) for run in runs.values() for t in targets[run.id] if t.metric in snaps[run.ref].metrics}
        progress = store.progress_for(s, pairs)
        for ref, run in runs.items():
            snap = snaps[ref]
            for target in targets[run.id]:
                stored = progress.get((target.id, run.id))
                if stored is not None and not _idle(snap, stored):
                    found.append(Want(ref, target.metric, store.rule_of(target), stored))
    return found


def _will_cross(want: Want, points: list[MetricPoint]) -> bool:
    # A dry run on the progress read above; the real evaluation re-reads it under a lock.
    return bool(evaluate(want.rule, want.progress, points)[1])


def _idle(snap: RunSnapshot, progress: TargetProgress) -> bool:
    # snap.step is the newest step over all metrics and heartbeat_at the newest metric time:
    # nothing past the last evaluated (step, time) means no new points to ask for.
    if snap.step is None or progress.last_step is None or snap.step > progress.last_step:
        return False
    if snap.step < progress.last_step or progress.last_at is None:
        return True
    return snap.heartbeat_at is None or snap.heartbeat_at <= progress.last_at


def _earlier(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else min(a, b)


# --- record phase: evaluate inside the transaction ------------------------------------------


@dataclass
class Fired:
    alert_id: int
    target: Target
    run: Run
    crossing: Crossing
    points: list[MetricPoint]
    now: msg.RunNow | None = None  # the run as the answer shows it, which may have moved on since


def run_now(snap: RunSnapshot) -> msg.RunNow:
    return msg.RunNow(state=snap.state.value, step=snap.step, diverged=bool(nonfinite(snap.metrics)))


def evaluate_polled(s: Session, services: Services, conn: Connection, answer: Answer, now: datetime,
                    runs: dict[str, Run] | None = None) -> None:
    """runs: the answer's runs by ref, when record already read them for its other stages."""
    fired: list[Fired] = []
    if runs is None:
        runs = q.runs_by_ref(s, conn.id, answer.snaps)
    runs = {ref: run for ref, run in runs.items() if ref in answer.snaps}
    targets = store.targets_for_runs(s, list(runs.values()))
    # Missing history (a new target, or the tracker failed) waits for the next poll.
    work = [(target, run, points) for ref, run in runs.items() for target in targets[run.id]
            if (points := answer.history.get(target.metric, {}).get(ref))]
    rows = store.lock_progress_many(s, [(target.id, run.id) for target, run, _ in work])
    kept_keys: set[tuple[int, str]] = set()
    for target, run, points in work:
        if (run.id, target.metric) not in kept_keys:  # the forecast reads them back from the store
            kept.record_series(s, run.id, target.metric, points)
            kept_keys.add((run.id, target.metric))
        row = rows[(target.id, run.id)]
        seen = (row.last_step, row.last_at)
        crossed = evaluate_run(s, target, run, points, now, row=row)
        fired += [replace(f, now=run_now(answer.snaps[run.ref])) for f in crossed]
        if (row.last_step, row.last_at) != seen:  # new points: worth a fresh forecast
            forecasts.check(s, conn, target, run, answer.snaps[run.ref].state.value, now, bool(row.muted_by))
    announce(s, conn, fired, now)


def evaluate_pushed(s: Session, conn: Connection, run: Run, snap: RunSnapshot, now: datetime) -> None:
    # Polled runs are evaluated from their history in evaluate_polled. A push without a step
    # cannot be ordered against earlier values, so it does not count as an evaluation.
    if conn.kind in POLLED or snap.step is None:
        return
    at = snap.heartbeat_at or now
    fired: list[Fired] = []
    for target in store.targets_for_run(s, run):
        if target.metric in snap.metrics:
            point = MetricPoint(step=snap.step, value=float(snap.metrics[target.metric]), at=at)
            row = store.lock_progress(s, target.id, run.id)
            seen = row.last_step
            crossed = evaluate_run(s, target, run, [point], now, repeats=False, row=row)
            if row.last_step != seen:  # a new step: worth a fresh forecast
                forecasts.check(s, conn, target, run, snap.state.value, now, bool(row.muted_by))
            if crossed:  # the chart shows the run's kept history, which includes this point
                history = kept.history(s, [run.id], target.metric).get(run.id) or [point]
                crossed = [replace(f, points=history, now=run_now(snap)) for f in crossed]
            fired += crossed
    announce(s, conn, fired, now)


def evaluate_run(
    s: Session, target: Target, run: Run, points: list[MetricPoint], now: datetime, repeats: bool = True,
    row: TargetProgressRow | None = None,
) -> list[Fired]:
    """repeats=False: a point at the last evaluated step is never new (a pushed update that
    repeats its step, e.g. the final `finished` push, is not another evaluation). `row` is the
    progress row when the caller already locked it."""
    row = row or store.lock_progress(s, target.id, run.id)
    if not repeats and row.last_step is not None:
        points = [p for p in points if p.step > row.last_step]
    progress, crossings = evaluate(store.rule_of(target), store.to_core(row), points)
    store.store_progress(row, progress)
    # Snoozed for an hour, or muted for this run ("Mute for this run" on the unlikely message).
    held = (row.snoozed_until is not None and row.snoozed_until > now) or bool(row.muted_by)
    fired = []
    for crossing in crossings:
        # Recorded even while held back (the crossing happened); only the message is not posted.
        alert_id = store.record_alert(s, target.id, run.id, crossing, now)
        if alert_id is not None and not held:
            fired.append(Fired(alert_id, target, run, crossing, points))
    return fired


def announce(s: Session, conn: Connection, fired: list[Fired], now: datetime) -> None:
    """One message per channel for the crossings of this poll, each run's chart in its thread."""
    by_channel: dict[tuple[str, str], list[Fired]] = defaultdict(list)
    for f in fired:
        by_channel[(f.target.team_id, f.target.channel_id)].append(f)
    for (team_id, channel_id), items in by_channel.items():
        for start in range(0, len(items), MAX_ALERTS_PER_MESSAGE):
            _post(s, conn, team_id, channel_id, items[start : start + MAX_ALERTS_PER_MESSAGE], now)


def _post(s: Session, conn: Connection, team_id: str, channel_id: str, items: list[Fired], now: datetime) -> None:
    key = f"target-alert:{items[0].alert_id}"
    alerts = [msg.alert_item(f.alert_id, f.target, f.run, conn.name, f.crossing, f.now) for f in items]
    enqueue(s, key=key, team_id=team_id, channel_id=channel_id, template=msg.TEMPLATE,
            payload={"alerts": alerts, "log": [], "kind": conn.kind}, now=now)
    s.execute(update(Alert).where(Alert.id.in_([f.alert_id for f in items])).values(message_key=key))
    for f, item in zip(items, alerts, strict=True):
        enqueue(s, key=f"target-chart:{f.alert_id}", team_id=team_id, channel_id=channel_id,
                template=msg.CHART, payload=msg.chart_payload(item, f.points), now=now,
                op="upload", parent_key=key)


# --- NaN/inf loss -------------------------------------------------------------------------


def alert_nonfinite(s: Session, conn: Connection, run: Run, snap: RunSnapshot, now: datetime) -> None:
    """Once per (run, loss metric, channel): the outbox key is the whole dedupe."""
    bad = nonfinite(snap.metrics)
    if not bad:
        return
    base = run_payload(conn, run, now)
    for metric in bad:
        payload = {**base, "metric": metric, "value": str(float(snap.metrics[metric]))}
        for team_id, channel_id in q.channels_of(s, run.id):
            enqueue(s, key=f"nonfinite:{run.id}:{_short(metric)}:{channel_id}", team_id=team_id,
                    channel_id=channel_id, template="run_nonfinite", payload=payload, now=now)


def _short(name: str) -> str:
    # Outbox keys are cut at 255 characters; a long metric name is hashed so keys stay distinct.
    return name if len(name) <= 80 else hashlib.sha256(name.encode()).hexdigest()[:24]
