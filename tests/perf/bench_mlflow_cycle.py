"""Benchmark: one readybot poll cycle over N tracked MLflow runs vs the bare batched search.

    python tests/perf/bench_mlflow_cycle.py [--runs 1000 [10000]] [--repeats 3] [--db sqlite|postgres]

A real `mlflow server` (SQLite backend). Its store is kept in a temp directory per run count
(readybot-bench-mlflow-<N>) and reused by later runs of the benchmark: logging 10,000 runs
through the REST API takes minutes. Measured in the same run: the bare batched runs/search
(pages of 1,000 over every experiment, the tracker's own floor) and a quiet poll cycle
(`poll_once`, nothing changed: requests and wall time), alternating, as medians of --repeats.
With two run counts it also prints the larger cycle's cost over the smaller's (goal: at most
1.1x the ratio of the counts, e.g. 11x for 1,000 -> 10,000). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
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
from integrations.http import TrackerHttp  # noqa: E402
from integrations.mlflow import search  # noqa: E402
from tests.conftest import quick_trackers  # noqa: E402
from tests.mlflow_server import MlflowLogger, running_mlflow_server  # noqa: E402
from tests.perf.bench_mlflow_poll import populate  # noqa: E402
from tests.perf.bench_poll_cycle import database  # noqa: E402

NOW = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)


def cached_runs(url: str, workdir: Path, runs: int, experiments: int) -> tuple[list[str], list[str]]:
    marker = workdir / "runs.json"
    if marker.exists():
        saved = json.loads(marker.read_text())
        return saved["experiments"], saved["runs"]
    exp_ids, run_ids = populate(MlflowLogger(url), runs, experiments)
    marker.write_text(json.dumps({"experiments": exp_ids, "runs": run_ids}))
    return exp_ids, run_ids


def bare_search(url: str, exp_ids: list[str]) -> tuple[int, int]:
    """Every run, in pages of 1,000: (requests, runs)."""
    http = TrackerHttp(url)
    body: dict = {"experiment_ids": exp_ids, "max_results": 1000}
    count = 0
    while True:
        page = http.post(search.API + "runs/search", body)
        count += len(page.get("runs", []))
        if not page.get("next_page_token"):
            return http.requests_made, count
        body = {**body, "page_token": page["next_page_token"]}


def seed(store: Store, url: str, run_ids: list[str]) -> None:
    with store.tx() as s:
        conn = Connection(team_id="T1", name="mlflow", kind="mlflow", url=url, options={}, created_at=NOW)
        s.add(conn)
        s.flush()
        s.execute(insert(Run), [dict(connection_id=conn.id, ref=ref, state="running", metrics={}, params={},
                                     active=True, created_at=NOW, updated_at=NOW) for ref in run_ids])
        ids = dict(s.execute(select(Run.ref, Run.id)).all())
        s.execute(insert(Watch), [dict(team_id="T1", channel_id=f"C{i % 1000:04d}", connection_id=conn.id, ref=ref,
                                       is_experiment=False, created_at=NOW) for i, ref in enumerate(run_ids)])
        watches = dict(s.execute(select(Watch.ref, Watch.id)).all())
        s.execute(insert(WatchRun), [dict(watch_id=watches[ref], run_id=ids[ref]) for ref in run_ids])


def timed(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(runs: int, experiments: int, repeats: int, db: str) -> dict:
    """One run count: bare searches and quiet cycles alternate, so a load spike on this shared
    machine falls on both sides of the ratio rather than on one."""
    workdir = Path(tempfile.gettempdir()) / f"readybot-bench-mlflow-{runs}"
    workdir.mkdir(exist_ok=True)
    with running_mlflow_server(workdir=workdir) as url:
        exp_ids, run_ids = cached_runs(url, workdir, runs, experiments)
        db_url = database(db)
        store = Store(db_url)
        upgrade(store.engine)
        seed(store, url, run_ids)
        settings = Settings(database_url=db_url, slack_api_url="http://127.0.0.1:9/api/", slack_bot_token="xoxb-bench")
        services = build_services(settings, store=store, clock=lambda: NOW, trackers=quick_trackers)
        first = timed(lambda: poll_once(services))  # every run changes: first sight of its snapshot
        [tracker] = services.tracker_cache.values()
        tracker.http.requests_made = 0
        bare_times, cycles, bare_requests = [], [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            bare_requests, found = bare_search(url, exp_ids)
            bare_times.append(time.perf_counter() - start)
            assert found == len(run_ids), (found, len(run_ids))
            cycles.append(timed(lambda: poll_once(services)))
        requests = tracker.http.requests_made // repeats
        store.dispose()
    bare, cycle = statistics.median(bare_times), statistics.median(cycles)
    return {
        "runs": len(run_ids),
        "bare_search": {"requests": bare_requests, "seconds": round(bare, 3)},
        "poll_cycle_quiet": {"requests": requests, "seconds": round(cycle, 3), "x_bare": round(cycle / bare, 2)},
        "poll_cycle_first": {"seconds": round(first, 3), "x_bare": round(first / bare, 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1000],
                        help="run counts; with two, also the larger cycle's cost as a multiple of the smaller's")
    parser.add_argument("--experiments", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    results = [measure(n, args.experiments, args.repeats, args.db) for n in sorted(args.runs)]
    out: dict = {"benchmark": "mlflow_poll_cycle", "db": args.db, "counts": results,
                 "goals": {"within_1_5x_bare": all(r["poll_cycle_quiet"]["x_bare"] <= 1.5 for r in results)}}
    if len(results) == 2:
        small, large = (r["poll_cycle_quiet"]["seconds"] for r in results)
        bare_small, bare_large = (r["bare_search"]["seconds"] for r in results)
        scale = results[1]["runs"] / results[0]["runs"]
        out["large_vs_small"] = {"cycle": round(large / small, 2), "bare_search": round(bare_large / bare_small, 2)}
        out["goals"]["at_most_1_1_per_run_count"] = large / small <= 1.1 * scale
    print(json.dumps(out))


if __name__ == "__main__":
    main()
