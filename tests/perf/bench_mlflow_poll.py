"""Benchmark: poll 1,000 MLflow runs with MlflowTracker.fetch_runs vs one bare runs/search.

    python tests/perf/bench_mlflow_poll.py [--runs 1000] [--experiments 5] [--repeats 5]

Starts a real `mlflow server` (SQLite), logs the runs through the REST API, then times:
- one bare runs/search returning every run (the floor: one request, no translation);
- fetch_runs cold (a fresh tracker: learns the experiment ids first) and warm;
- warm fetch_runs at several batch sizes, to show what the chosen BATCH_SIZE costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from integrations.base import ConnectionInfo  # noqa: E402
from integrations.http import TrackerHttp  # noqa: E402
from integrations.mlflow import MlflowTracker, search  # noqa: E402
from integrations.mlflow.translate import snapshot  # noqa: E402
from tests.mlflow_server import MlflowLogger, running_mlflow_server  # noqa: E402

T0 = 1_767_614_400_000  # 2026-01-05 12:00 UTC in ms: fixed so runs look the same every time


def populate(logger: MlflowLogger, runs: int, experiments: int) -> tuple[list[str], list[str]]:
    exp_ids = [logger.create_experiment(f"bench-{i}") for i in range(experiments)]
    points = [
        (key, 1.0 / (s + 1), s, T0 + s * 60_000) for s in range(5) for key in ("loss", "val_loss", "acc")
    ]

    def one_run(i: int) -> str:
        run_id = logger.create_run(exp_ids[i % experiments], start_ms=T0 + i, name=f"run-{i}")
        params = {"epochs": 20, "lr": 0.001, "batch_size": 64, "model": "resnet50", "seed": i}
        logger.log_batch(run_id, metrics=points, params=params)  # two requests per run in all
        return run_id

    # A few writers at once: SQLite serialises the commits, but request handling overlaps.
    with ThreadPoolExecutor(max_workers=8) as pool:
        return exp_ids, list(pool.map(one_run, range(runs)))


def translate_all(runs: list[dict], url: str) -> None:
    for run in runs:
        snapshot(run, url)


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def new_tracker(url: str, **kwargs: int) -> MlflowTracker:
    return MlflowTracker(ConnectionInfo(kind="mlflow", name="bench", url=url), TrackerHttp(url), **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--experiments", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with running_mlflow_server() as url:
        start = time.perf_counter()
        exp_ids, run_ids = populate(MlflowLogger(url), args.runs, args.experiments)
        print(
            f"server {url}: logged {len(run_ids)} runs in {len(exp_ids)} experiments "
            f"in {time.perf_counter() - start:.1f} s"
        )

        bare_http = TrackerHttp(url)
        body = {"experiment_ids": exp_ids, "max_results": max(1000, len(run_ids))}
        bare_s, page = timed(lambda: bare_http.post(search.API + "runs/search", body), args.repeats)
        assert len(page["runs"]) == len(run_ids), "bare search must return every run"
        translate_s, _ = timed(lambda: translate_all(page["runs"], url), args.repeats)
        print(
            f"bare runs/search          : {bare_http.requests_made // args.repeats} request,  "
            f"{bare_s * 1000:7.1f} ms (translating its runs alone: {translate_s * 1000:.1f} ms)"
        )

        cold = new_tracker(url)
        start = time.perf_counter()
        snaps = cold.fetch_runs(run_ids)
        cold_s = time.perf_counter() - start
        assert len(snaps) == len(run_ids)
        print(
            f"fetch_runs cold           : {cold.http.requests_made} requests, {cold_s * 1000:7.1f} ms "
            f"(x{cold_s / bare_s:.2f} bare)"
        )

        cold.http.requests_made = 0
        warm_s, snaps = timed(lambda: cold.fetch_runs(run_ids), args.repeats)
        assert len(snaps) == len(run_ids)
        print(
            f"fetch_runs warm           : {cold.http.requests_made // args.repeats} requests, "
            f"{warm_s * 1000:7.1f} ms (x{warm_s / bare_s:.2f} bare)"
        )

        for batch in (100, 250, 500, 1000, 2000, 4000):
            tracker = new_tracker(url, batch_size=batch, page_size=batch)
            tracker.fetch_runs(run_ids[:1])
            tracker.http.requests_made = 0
            seconds, _ = timed(lambda t=tracker: t.fetch_runs(run_ids), args.repeats)
            print(
                f"  warm, batch_size {batch:5d}  : {tracker.http.requests_made // args.repeats:2d} requests, "
                f"{seconds * 1000:7.1f} ms"
            )


if __name__ == "__main__":
    main()
