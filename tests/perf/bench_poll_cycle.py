"""Benchmark: the bot's own cost of one poll cycle for N tracked runs (database work, state
evaluation, targets), with the tracker answered in memory so only readybot is measured.

    python tests/perf/bench_poll_cycle.py [--runs 1000] [--db sqlite|postgres] [--repeats 3]

Prints the time of a quiet cycle (nothing changed), of a busy cycle (every run advanced a step),
and of the cycle in which every run finished (one notification per run), beside the time of
translating the same snapshots alone, as ratios measured in this one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))


from bot.config import Settings  # noqa: E402
from bot.jobs.poll import poll_once  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Connection, Run, Target, Watch, WatchRun  # noqa: E402
from integrations.base import MetricPoint, RunSnapshot, RunState  # noqa: E402

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
from benchdb import scratch_database  # noqa: E402 - tests/perf is on sys.path when run as a script


class MemoryTracker:
    """Answers like a tracker, from a dict the benchmark changes between cycles."""

    def __init__(self, snaps: dict[str, RunSnapshot]):
        self.snaps = snaps

    def fetch_runs(self, refs):  # noqa: ANN001, ANN201
        return {r: self.snaps[r] for r in refs if r in self.snaps}

    def list_runs(self, experiment, since=None):  # noqa: ANN001, ANN201
        return []

    def metric_history(self, refs, key, start_step=None):  # noqa: ANN001, ANN201
        out = {}
        for ref in refs:
            snap = self.snaps[ref]
            if key in snap.metrics and (start_step is None or (snap.step or 0) >= start_step):
                out[ref] = [MetricPoint(snap.step or 0, snap.metrics[key], snap.heartbeat_at or T0)]
            else:
                out[ref] = []
        return out

    def check(self) -> None:
        return None


def database(kind: str) -> str:
    return scratch_database(kind, "rb_bench")


def seed(store: Store, n: int) -> dict[str, RunSnapshot]:
    snaps = {}
    with store.tx() as s:
        conn = Connection(team_id="T1", name="mem", kind="mlflow", url="http://mem", options={}, created_at=T0)
        s.add(conn)
        s.flush()
        watch = Watch(team_id="T1", channel_id="C1", connection_id=conn.id, ref="exp", is_experiment=False,
                      created_at=T0)
        s.add(watch)
        s.add(Target(team_id="T1", channel_id="C1", metric="val_acc", op=">=", threshold=0.99, patience=1,
                     created_at=T0))
        s.flush()
        for i in range(n):
            snap = RunSnapshot(ref=f"run{i:05d}", state=RunState.RUNNING, name=f"run-{i}", step=1, total_steps=100,
                               metrics={"loss": 1.0, "val_acc": 0.5}, started_at=T0, heartbeat_at=T0)
            snaps[snap.ref] = snap
            run = Run(connection_id=conn.id, ref=snap.ref, name=snap.name, state="running", step=1, total_steps=100,
                      metrics=dict(snap.metrics), params={}, started_at=T0, heartbeat_at=T0, progress_at=T0,
                      active=True, created_at=T0, updated_at=T0)
            s.add(run)
            s.flush()
            s.add(WatchRun(watch_id=watch.id, run_id=run.id))
    return snaps


def timed(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    url = database(args.db)
    store = Store(url)
    upgrade(store.engine)
    snaps = seed(store, args.runs)
    now = [T0 + timedelta(minutes=1)]
    tracker = MemoryTracker(snaps)
    settings = Settings(database_url=url, slack_api_url="http://127.0.0.1:9/api/", slack_bot_token="xoxb-bench")
    services = build_services(settings, store=store, clock=lambda: now[0], trackers=lambda info: tracker)

    def advance(state: RunState = RunState.RUNNING) -> None:
        now[0] += timedelta(minutes=1)
        for ref, snap in list(snaps.items()):
            snaps[ref] = replace(snap, state=state, step=(snap.step or 0) + 1, heartbeat_at=now[0],
                                 metrics={"loss": 0.9, "val_acc": 0.5 + (snap.step or 0) / 1000})

    poll_once(services)  # warm-up: tracker cache, statement caches
    quiet = statistics.median(timed(lambda: poll_once(services)) for _ in range(args.repeats))
    busy = []
    for _ in range(args.repeats):
        advance()
        busy.append(timed(lambda: poll_once(services)))
    advance(RunState.FINISHED)
    finishing = timed(lambda: poll_once(services))
    translate = statistics.median(
        timed(lambda: [replace(s, step=s.step) for s in snaps.values()]) for _ in range(args.repeats)
    )
    busy_median = statistics.median(busy)
    print(f"{args.runs} tracked runs on {args.db}, one target on the channel")
    print(f"quiet cycle (nothing changed)   : {quiet * 1000:8.1f} ms")
    print(f"busy cycle (every run advanced) : {busy_median * 1000:8.1f} ms  (x{busy_median / quiet:.1f} quiet)")
    print(f"finishing cycle ({args.runs} notifications): {finishing * 1000:8.1f} ms  "
          f"(x{finishing / busy_median:.1f} busy)")
    print(f"per run, busy                   : {busy_median / args.runs * 1e6:8.0f} us")
    print(f"copying the snapshots alone     : {translate * 1000:8.1f} ms")
    store.dispose()


if __name__ == "__main__":
    main()
