"""Profile: the CPU our poll path spends per polled connection and per 1,000 runs, measured
inside the poll's worker threads (a profile of the calling thread shows only its waits).

    python tests/perf/profile_poll_cpu.py [--db postgres|sqlite] [--connections 120] [--runs 1000] [--top 25] [--repeats 5]

Two scenarios, each on a fresh database, with trackers that answer at once so only our CPU is
left (no mlflow server, no network):
- `replicas`: bench_poll_replicas.py's shape (N connections of 5 runs each, every run finished
  on its tracker): one poll_once with the scheduler's due_only, as a replica runs it.
- `cycle_1k`: bench_mlflow_cycle.py's shape (one MLflow connection, N runs, each in a channel
  of its own): the real MlflowTracker parses canned runs/search pages (JSON text decoded per
  request, as a server's answer would be), first cycle then a quiet one.
Measured: thread CPU (time.thread_time) of the claim and of the poll per connection, summed over
the pool's threads; SQL statements and transactions per connection; the top functions of a
cProfile taken per call in those threads and merged. Prints JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.jobs import poll  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from integrations.base import ConnectionInfo  # noqa: E402
from integrations.mlflow import MlflowTracker  # noqa: E402
from tests.perf.bench_mlflow_cycle import NOW  # noqa: E402
from tests.perf.bench_mlflow_cycle import seed as cycle_seed  # noqa: E402
from tests.perf.bench_poll_replicas import SlowTracker, seed  # noqa: E402
from tests.perf.benchdb import scratch_database  # noqa: E402

T0_MS = int((NOW - timedelta(days=1)).timestamp() * 1000)


class Meter:
    """Thread CPU and a merged cProfile of the wrapped functions, whichever thread calls them."""

    def __init__(self, profile: bool = False):
        self.profile = profile
        self.cpu = defaultdict(float)
        self.calls = defaultdict(int)
        self.process_cpu = 0.0
        self.stats: pstats.Stats | None = None
        self._lock = threading.Lock()

    def wrap(self, name: str, fn):  # noqa: ANN001, ANN201
        def measured(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            profile = cProfile.Profile(time.thread_time) if self.profile else None
            start = time.thread_time()
            try:
                return profile.runcall(fn, *args, **kwargs) if profile else fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - start
                with self._lock:
                    self.cpu[name] += spent
                    self.calls[name] += 1
                    if profile is None:
                        pass
                    elif self.stats is None:
                        self.stats = pstats.Stats(profile)
                    else:
                        self.stats.add(profile)
        return measured

    def top(self, n: int) -> list[str]:
        if self.stats is None:
            return []
        out = io.StringIO()
        self.stats.stream = out
        self.stats.sort_stats("tottime").print_stats(n)
        return [line for line in out.getvalue().splitlines() if line.strip()][-n:]


class Statements:
    def __init__(self, engine):  # noqa: ANN001
        self.count = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def stop(self, engine) -> None:  # noqa: ANN001
        event.remove(engine, "before_cursor_execute", self._statement)
        event.remove(engine, "commit", self._commit)

    def _statement(self, *_args) -> None:  # noqa: ANN002
        self.count += 1

    def _commit(self, *_args) -> None:  # noqa: ANN002
        self.commits += 1


def measured_poll(services, meter: Meter, due_only: bool):  # noqa: ANN001, ANN201
    """One poll_once with the claim and the per-connection poll measured in their threads."""
    # A claim in a transaction of its own (Cycle._next); one taken while recording is the poll's.
    real_claim, real_poll = poll.Cycle._next, poll.poll_connection
    poll.Cycle._next, poll.poll_connection = meter.wrap("claim", real_claim), meter.wrap("poll", real_poll)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        updated = poll.poll_once(services, due_only=due_only)
        meter.process_cpu = time.process_time() - cpu  # every thread's: the plan and the sweep too
        return updated, time.perf_counter() - start
    finally:
        poll.Cycle._next, poll.poll_connection = real_claim, real_poll


def report(meter: Meter, stmts: Statements, per: int, unit: str, wall: float) -> dict:
    return {
        "connections_polled": meter.calls["poll"],
        "wall_s": round(wall, 3),
        f"cpu_ms_per_{unit}": {k: round(1000 * v / per, 2) for k, v in meter.cpu.items()},
        f"cpu_ms_per_{unit}_total": round(1000 * sum(meter.cpu.values()) / per, 2),
        f"process_cpu_ms_per_{unit}": round(1000 * meter.process_cpu / per, 2),
        f"statements_per_{unit}": round(stmts.count / per, 2),
        f"commits_per_{unit}": round(stmts.commits / per, 2),
    }


def replicas(db: str, connections: int, top: int) -> dict:
    """CPU from an unprofiled poll; the functions from a second, profiled one on a fresh seed."""
    out = {}
    for profiled in (False, True):
        url = scratch_database(db, "rb_profile_replicas")
        seed(url, connections, 5)
        settings = Settings(database_url=url, slack_api_url="http://127.0.0.1:9/api/", slack_bot_token="xoxb-bench",
                            poll_seconds=3600)
        services = build_services(settings, clock=lambda: datetime.now(UTC),
                                  trackers=lambda info: SlowTracker(info.url, 0.0, []))
        stmts, meter = Statements(services.store.engine), Meter(profiled)
        _, wall = measured_poll(services, meter, due_only=True)
        polled = max(meter.calls["poll"], 1)
        if profiled:
            out["top_tottime"] = meter.top(top)
        else:
            out = {**report(meter, stmts, polled, "connection", wall), **out}
        services.store.dispose()
    return out


class CannedHttp:
    """What a real MLflow server answers (its JSON text, decoded per request), without the server."""

    def __init__(self, experiments: str, runs: dict[str, dict]):
        self.experiments, self.runs, self.requests_made = experiments, runs, 0

    def guard(self, policy) -> None:  # noqa: ANN001
        return None

    def post(self, path: str, body: dict):  # noqa: ANN201
        self.requests_made += 1
        if path.endswith("experiments/search"):
            return json.loads(self.experiments)
        wanted = body["filter"].split("(", 1)[1].rstrip(")").replace("'", "").split(",")
        return json.loads(json.dumps({"runs": [self.runs[ref] for ref in wanted if ref in self.runs]}))


def mlflow_run(i: int, experiments: int) -> dict:
    """A run as runs/search answers it, shaped like bench_mlflow_poll.populate's."""
    run_id = f"{i:032x}"
    metrics = [{"key": key, "value": 1.0 / 5, "timestamp": T0_MS + 4 * 60_000, "step": 4}
               for key in ("loss", "val_loss", "acc")]
    params = {"epochs": 20, "lr": 0.001, "batch_size": 64, "model": "resnet50", "seed": i}
    return {
        "info": {"run_id": run_id, "run_uuid": run_id, "run_name": f"run-{i}", "experiment_id": str(i % experiments),
                 "user_id": "bench", "status": "RUNNING", "start_time": T0_MS + i, "artifact_uri": "x",
                 "lifecycle_stage": "active"},
        "data": {"metrics": metrics, "params": [{"key": k, "value": str(v)} for k, v in params.items()],
                 "tags": [{"key": "mlflow.runName", "value": f"run-{i}"}, {"key": "mlflow.user", "value": "bench"}]},
        "inputs": {},
    }


def cycle(db: str, runs: int, top: int, repeats: int = 5) -> dict:
    experiments = 5
    canned = {run["info"]["run_id"]: run for run in (mlflow_run(i, experiments) for i in range(runs))}
    exps = json.dumps({"experiments": [{"experiment_id": str(e), "name": f"bench-{e}"} for e in range(experiments)]})
    url = scratch_database(db, "rb_profile_cycle")
    store = Store(url)
    upgrade(store.engine)
    cycle_seed(store, "http://mlflow.invalid", list(canned))
    settings = Settings(database_url=url, slack_api_url="http://127.0.0.1:9/api/", slack_bot_token="xoxb-bench")

    def tracker(info: ConnectionInfo) -> MlflowTracker:
        return MlflowTracker(info, http=CannedHttp(exps, canned))

    services = build_services(settings, store=store, clock=lambda: NOW, trackers=tracker)
    out, quiet = {}, []
    for name in ["first"] + ["quiet"] * repeats + ["quiet_profiled"]:
        stmts, meter = Statements(store.engine), Meter(name == "quiet_profiled")
        _, wall = measured_poll(services, meter, due_only=False)
        if meter.profile:
            out["quiet_top_tottime"] = meter.top(top)
        else:
            row = report(meter, stmts, 1, "cycle", wall)
            row["cpu_ms_per_1000_runs"] = round(row["cpu_ms_per_cycle_total"] * 1000 / runs, 1)
            if name == "first":
                out["first"] = row
            else:
                quiet.append(row)
        stmts.stop(store.engine)
    store.dispose()
    # The median quiet cycle by CPU, and every cycle's figure: this machine is shared.
    out["quiet"] = sorted(quiet, key=lambda r: r["cpu_ms_per_cycle_total"])[len(quiet) // 2]
    out["quiet_cpu_ms_per_1000_runs_each"] = [r["cpu_ms_per_1000_runs"] for r in quiet]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--connections", type=int, default=120)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5, help="quiet cycles measured (the median is reported)")
    parser.add_argument("--only", choices=["replicas", "cycle"], default=None)
    args = parser.parse_args()
    out: dict = {"profile": "poll_cpu", "db": args.db}
    if args.only in (None, "replicas"):
        out["replicas"] = replicas(args.db, args.connections, args.top)
    if args.only in (None, "cycle"):
        out[f"cycle_{args.runs}"] = cycle(args.db, args.runs, args.top, args.repeats)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
