"""Benchmark: the poller's memory over time, RSS after 1, 5 and 50 poll cycles at 10,000 runs
watched from 1,000 channels, every run advancing a step each cycle (an in-memory tracker, so
only readybot's memory is measured).

    python tests/perf/bench_poll_rss.py [--runs 10000] [--channels 1000] [--cycles 50] [--db sqlite|postgres]

Prints one JSON object: RSS in MB at start (after seeding), after cycles 1, 5 and the last, the
growth from cycle 5 to the last, and the median cycle time. The reference is the process's own
RSS before the first cycle, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.jobs.poll import poll_once  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Connection, Run, Watch, WatchRun  # noqa: E402
from integrations.base import RunSnapshot, RunState  # noqa: E402
from tests.perf.bench_poll_cycle import T0, MemoryTracker, database  # noqa: E402


def rss_mb() -> float:
    """Resident set size now (VmRSS of /proc/self/status, Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def seed(store: Store, runs: int, channels: int) -> dict[str, RunSnapshot]:
    """Core bulk inserts: seeding 10,000 runs through the ORM would measure the seeding."""
    snaps = {}
    with store.tx() as s:
        conn = Connection(team_id="T1", name="mem", kind="mlflow", url="http://mem", options={}, created_at=T0)
        s.add(conn)
        s.flush()
        rows = []
        for i in range(runs):
            snap = RunSnapshot(ref=f"run{i:05d}", state=RunState.RUNNING, name=f"run-{i}", step=1, total_steps=10_000,
                               metrics={"loss": 1.0, "acc": 0.5}, params={"lr": "0.001"}, started_at=T0,
                               heartbeat_at=T0)
            snaps[snap.ref] = snap
            rows.append(dict(connection_id=conn.id, ref=snap.ref, name=snap.name, state="running", step=1,
                             total_steps=10_000, metrics=dict(snap.metrics), params=dict(snap.params), started_at=T0,
                             heartbeat_at=T0, progress_at=T0, active=True, created_at=T0, updated_at=T0))
        s.execute(insert(Run), rows)
        ids = dict(s.execute(select(Run.ref, Run.id)).all())
        s.execute(insert(Watch), [dict(team_id="T1", channel_id=f"C{i % channels:05d}", connection_id=conn.id, ref=ref,
                                       is_experiment=False, created_by="U1", created_at=T0)
                                  for i, ref in enumerate(snaps)])
        watches = dict(s.execute(select(Watch.ref, Watch.id)).all())
        s.execute(insert(WatchRun), [dict(watch_id=watches[ref], run_id=ids[ref]) for ref in snaps])
    return snaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    url = database(args.db)
    store = Store(url)
    upgrade(store.engine)
    snaps = seed(store, args.runs, args.channels)
    now = [T0 + timedelta(minutes=1)]
    tracker = MemoryTracker(snaps)
    settings = Settings(database_url=url, slack_api_url="http://127.0.0.1:9/api/", slack_bot_token="xoxb-bench")
    services = build_services(settings, store=store, clock=lambda: now[0], trackers=lambda info: tracker)
    start_rss = rss_mb()
    rss: dict[int, float] = {}
    times = []
    for cycle in range(1, args.cycles + 1):
        now[0] += timedelta(minutes=1)
        for ref, snap in list(snaps.items()):
            step = (snap.step or 0) + 1
            snaps[ref] = replace(snap, step=step, heartbeat_at=now[0], metrics={"loss": 1.0 / step, "acc": 0.5})
        started = time.perf_counter()
        poll_once(services)
        times.append(time.perf_counter() - started)
        rss[cycle] = rss_mb()
    last = args.cycles
    print(json.dumps({
        "benchmark": "poll_rss", "db": args.db, "runs": args.runs, "channels": args.channels, "cycles": last,
        "rss_mb": {"start": round(start_rss, 1), "cycle_1": round(rss[1], 1), "cycle_5": round(rss[min(5, last)], 1),
                   f"cycle_{last}": round(rss[last], 1)},
        "growth_5_to_last": round(rss[last] / rss[min(5, last)] - 1, 3),
        "cycle_seconds_median": round(statistics.median(times), 3),
        "goals": {"rss_under_300_mb": rss[last] < 300, "flat_within_10pct": rss[last] <= rss[min(5, last)] * 1.1},
    }))
    store.dispose()


if __name__ == "__main__":
    main()
