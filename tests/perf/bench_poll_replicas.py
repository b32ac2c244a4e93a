"""Benchmark: polling throughput with 1, 2 and 3 replicas on one PostgreSQL.

    python tests/perf/bench_poll_replicas.py [--connections 120] [--runs-per-connection 5] [--latency 0.2] [--rounds 3]

Each replica is its own process running the scheduler's poll job (bot/jobs/scheduler.py
`run_job`, exactly what `readybot serve` runs) in a loop, against connections whose tracker
is an in-memory fake that takes --latency seconds per request. Every run has finished on its
tracker, so one poll of a connection finishes its runs and queues one notification per run.
Measured: connections polled per second until every run is recorded finished, the speed-up
over one replica (the reference, measured in the same run), how many connections were asked
more than once, and that every notification was queued exactly once. Rounds of 1, 2, 3
replicas in turn; each count reports its median round. Where the CPU went, per connection
polled: the replica processes' own (time.process_time over the polling) and their PostgreSQL
server processes' (read from /proc, found by application_name, since both share this machine;
a pooled connection closed during the run takes its share with it, so that one is a floor).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.jobs import scheduler  # noqa: E402
from bot.notify.dispatch import Dispatcher, DispatchLoop  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Connection, Outbox, Run, Watch, WatchRun  # noqa: E402
from integrations.base import RunSnapshot, RunState  # noqa: E402
from tests.perf.benchdb import scratch_database  # noqa: E402
from tests.perf.procstat import TICKS_PER_SECOND, parent_and_cpu_ticks  # noqa: E402

T0 = datetime.now(UTC) - timedelta(hours=1)


class SlowTracker:
    """Every run it is asked about has finished; each request takes `latency` seconds."""

    def __init__(self, url: str, latency: float, asked: list[str]):
        self.url, self.latency, self.asked = url, latency, asked

    def fetch_runs(self, refs):  # noqa: ANN001, ANN201
        time.sleep(self.latency)
        self.asked.append(self.url)
        return {r: RunSnapshot(ref=r, state=RunState.FINISHED, name=r, step=10, total_steps=10, started_at=T0,
                               ended_at=T0 + timedelta(minutes=30), heartbeat_at=T0 + timedelta(minutes=30))
                for r in refs}

    def list_runs(self, experiment, since=None):  # noqa: ANN001, ANN201
        return []

    def metric_history(self, refs, key, start_step=None):  # noqa: ANN001, ANN201
        return {r: [] for r in refs}

    def check(self) -> None:
        return None


def seed(url: str, connections: int, per_connection: int) -> None:
    store = Store(url)
    upgrade(store.engine)
    with store.tx() as s:
        for c in range(connections):
            conn = Connection(team_id="T1", name=f"c{c}", kind="mlflow", url=f"http://fake/{c}", options={},
                              created_at=T0)
            s.add(conn)
            s.flush()
            watch = Watch(team_id="T1", channel_id=f"C{c % 20:03d}", connection_id=conn.id, ref=f"exp{c}",
                          is_experiment=False, created_at=T0)
            s.add(watch)
            s.flush()
            s.execute(insert(Run), [dict(connection_id=conn.id, ref=f"c{c}r{i}", name=f"c{c}r{i}", state="running",
                                         step=1, total_steps=10, metrics={}, params={}, started_at=T0,
                                         heartbeat_at=T0, progress_at=T0, active=True, created_at=T0, updated_at=T0)
                                    for i in range(per_connection)])
            ids = s.scalars(select(Run.id).where(Run.connection_id == conn.id)).all()
            s.execute(insert(WatchRun), [dict(watch_id=watch.id, run_id=i) for i in ids])
    store.dispose()


APP = "rb_bench_replica"  # the replicas' application_name, by which their server processes are found


def with_app(url: str) -> str:
    return f"{url}&application_name={APP}" if "?" in url else f"{url}?application_name={APP}"


def server_cpu_seconds(url: str) -> float:
    """CPU of the PostgreSQL processes serving the replicas now (utime + stime, /proc/<pid>/stat)."""
    store = Store(url)
    with store.tx() as s:
        pids = s.scalars(select(func.distinct(text("pid"))).select_from(text("pg_stat_activity"))
                         .where(text("application_name = :app")), {"app": APP}).all()
    store.dispose()
    # None: another machine's server, or the process ended.
    found = [cpu for pid in pids if (cpu := parent_and_cpu_ticks(pid)) is not None]
    return sum(ticks for _, ticks in found) / TICKS_PER_SECOND


def replica(url: str, latency: float, barrier, results, done) -> None:  # noqa: ANN001
    asked: list[str] = []
    settings = Settings(database_url=url, slack_api_url="http://127.0.0.1:9/api/", slack_bot_token="xoxb-bench",
                        poll_seconds=3600)
    services = build_services(settings, clock=lambda: datetime.now(UTC),
                              trackers=lambda info: SlowTracker(info.url, latency, asked))
    dispatcher = DispatchLoop(Dispatcher(services.store, services.clients, services.clock))
    [job] = [j for j in scheduler.jobs(services, dispatcher) if j.id == "poll"]
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    deadline = started + 300
    while time.perf_counter() < deadline:
        with services.store.tx() as s:
            if not s.scalar(select(func.count()).select_from(Run).where(Run.active.is_(True))):
                break
        scheduler.run_job(services, job)
        time.sleep(0.02)  # another replica holds the work: look again soon, as the next tick would
    results.put((started, time.perf_counter(), asked, time.process_time() - cpu))
    done.wait(60)  # the server processes stay until their CPU is read
    services.store.dispose()


def measure(replicas: int, connections: int, per_connection: int, latency: float) -> dict:
    url = scratch_database("postgres", "rb_bench_replicas")  # its own schema: benchmarks never share one
    seed(url, connections, per_connection)
    ctx = mp.get_context("spawn")
    barrier, results, done = ctx.Barrier(replicas + 1), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=replica, args=(with_app(url), latency, barrier, results, done)) for _ in range(replicas)]
    for p in procs:
        p.start()
    barrier.wait()  # every replica has started: what their server processes spent so far is set-up
    server_before = server_cpu_seconds(url)
    outcome = [results.get(timeout=600) for _ in procs]
    server = server_cpu_seconds(url) - server_before
    done.set()
    for p in procs:
        p.join()
    seconds = max(end for _, end, _, _ in outcome) - min(start for start, _, _, _ in outcome)
    asked = Counter(url for _, _, urls, _ in outcome for url in urls)
    own = sum(cpu for _, _, _, cpu in outcome)
    store = Store(url)
    with store.tx() as s:
        keys = s.execute(select(Outbox.dedupe_key, func.count()).group_by(Outbox.dedupe_key)).all()
        active = s.scalar(select(func.count()).select_from(Run).where(Run.active.is_(True)))
    store.dispose()
    return {
        "replicas": replicas, "seconds": round(seconds, 2),
        "connections_per_second": round(connections / seconds, 2),
        "connections_asked_more_than_once": sum(1 for n in asked.values() if n > 1),
        "notifications": len(keys), "notifications_expected": connections * per_connection,
        "queued_twice": sum(1 for _, n in keys if n > 1), "runs_left_active": active,
        "cpu_ms_per_connection": {"replicas": round(1000 * own / connections, 1),
                                  "postgres": round(1000 * server / connections, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=120)
    parser.add_argument("--runs-per-connection", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of 1, 2, 3 replicas in turn: load drift on a shared machine falls on every count")
    args = parser.parse_args()
    rounds = [[measure(n, args.connections, args.runs_per_connection, args.latency) for n in (1, 2, 3)]
              for _ in range(args.rounds)]
    rows = [median_row([r[i] for r in rounds]) for i in range(3)]
    one = rows[0]["connections_per_second"]
    for row in rows:
        row["speedup_vs_1"] = round(row["connections_per_second"] / one, 2)
    print(json.dumps({
        "benchmark": "poll_replicas", "connections": args.connections, "runs_per_connection": args.runs_per_connection,
        "tracker_latency_s": args.latency, "rounds": args.rounds, "results": rows,
        "speedup_3_per_round": [round(r[2]["connections_per_second"] / r[0]["connections_per_second"], 2)
                                for r in rounds],
        "goals": {"three_replicas_at_least_2_5x": rows[2]["speedup_vs_1"] >= 2.5,
                  "each_notification_once": all(r["queued_twice"] == 0 and r["notifications"] ==
                                                r["notifications_expected"] for rnd in rounds for r in rnd)},
    }))


def median_row(rows: list[dict]) -> dict:
    """The round with the median throughput for one replica count."""
    return sorted(rows, key=lambda r: r["connections_per_second"])[len(rows) // 2]


if __name__ == "__main__":
    main()
