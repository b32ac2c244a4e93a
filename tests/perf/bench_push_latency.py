"""Benchmark: how soon a run's end reaches the channel, through a running bot (HTTP server and
scheduler in this process, the fake Slack beside it).

    python tests/perf/bench_push_latency.py [--pushes 200] [--polled 20] [--poll-seconds 2] [--db sqlite|postgres]

- "push": a pushed "finished" (POST /api/v1/runs/<ref>) until the fake Slack receives its
  chat.postMessage; p50/p99 over --pushes runs, one at a time. Goal: p99 under 500 ms.
- "polled": a run that finishes in a tracker polled every --poll-seconds (answered from memory)
  until its message is posted. Goal: within one interval + 1 s. The reference is the interval.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from benchdb import scratch_database  # noqa: E402 - tests/perf is on sys.path when run as a script

from bot.config import Settings  # noqa: E402
from bot.sandbox import FakeSlack, SlackSender  # noqa: E402
from bot.server import Server  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from integrations.base import RunSnapshot, RunState  # noqa: E402
from integrations.registry import tracker_for  # noqa: E402

TOKEN = "xoxb-bench"
SECRET = "bench-signing-secret"
WAIT = 30.0  # seconds; a message later than this counts as lost and stops the round


class TimedSlack(FakeSlack):
    """The fake Slack, noting when each message arrived (keyed by the text it carries)."""

    def __init__(self) -> None:
        super().__init__(tokens=(TOKEN,))
        self.posted: list[tuple[float, str]] = []

    def handle_api(self, method: str, params: dict, headers: dict) -> tuple[int, dict, dict]:
        at = time.perf_counter()
        answer = super().handle_api(method, params, headers)
        if method == "chat.postMessage":
            with self.changed:
                self.posted.append((at, str(params.get("text") or "")))
                self.changed.notify_all()
        return answer

    def arrival(self, needle: str) -> float | None:
        """When a message whose text holds `needle` arrived; waits up to WAIT for it."""
        def seen() -> float | None:
            return next((at for at, t in self.posted if needle in t), None)
        with self.changed:
            return self.changed.wait_for(seen, WAIT)


class MemoryTracker:
    """An MLflow-kind connection answered from memory, so the poll costs only readybot."""

    def __init__(self) -> None:
        self.snaps: dict[str, RunSnapshot] = {}

    def check(self) -> None:
        return None

    def fetch_runs(self, refs):  # noqa: ANN001, ANN201
        return {r: self.snaps[r] for r in refs if r in self.snaps}

    def list_runs(self, experiment, since=None):  # noqa: ANN001, ANN201
        return []

    def metric_history(self, refs, key, start_step=None):  # noqa: ANN001, ANN201
        return {r: [] for r in refs}


def database(kind: str) -> str:
    return scratch_database(kind, "rb_bench_latency")


def say(sender: SlackSender, fake: FakeSlack, words: str) -> str:
    before = len(fake.responses())
    resp = sender.command(words)
    if resp.text.strip():
        return resp.json().get("text", "")
    fake.wait_for(lambda: len(fake.responses()) > before, timeout=WAIT)
    return fake.responses()[-1]["text"]


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"n": len(ordered), "p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def pushed(url: str, sender: SlackSender, fake: TimedSlack, n: int) -> dict:
    token = re.search(r"`(rbp_[^`]+)`", say(sender, fake, "connect push as trainer"))[1]
    auth = {"Authorization": f"Bearer {token}"}
    refs = [f"push-{i:04d}" for i in range(n)]
    http = requests.Session()
    for ref in refs:
        http.post(f"{url}/api/v1/runs/{ref}", json={"state": "running", "step": 1}, headers=auth, timeout=10)
        say(sender, fake, f"track trainer:{ref}")
    latencies, lost = [], 0
    for ref in refs:
        start = time.perf_counter()
        http.post(f"{url}/api/v1/runs/{ref}", json={"state": "finished", "step": 2}, headers=auth, timeout=10)
        at = fake.arrival(ref)
        if at is None:
            lost += 1
            break
        latencies.append(at - start)
    return {**percentiles(latencies), "lost": lost, "goal_p99_ms": 500}


def polled(sender: SlackSender, fake: TimedSlack, tracker: MemoryTracker, n: int, every: int) -> dict:
    say(sender, fake, "connect mlflow http://127.0.0.1:9/ as mem")
    now = datetime.now(UTC)
    refs = [f"polled-{i:04d}" for i in range(n)]
    for ref in refs:
        tracker.snaps[ref] = RunSnapshot(ref=ref, state=RunState.RUNNING, name=ref, step=1, started_at=now,
                                         heartbeat_at=now)
        say(sender, fake, f"track mem:{ref}")
    latencies, lost = [], 0
    for i, ref in enumerate(refs):
        time.sleep((i * 0.37) % every)  # finish at a different moment of the poll interval each time
        start = time.perf_counter()
        tracker.snaps[ref] = replace(tracker.snaps[ref], state=RunState.FINISHED, step=2,
                                     ended_at=datetime.now(UTC))
        at = fake.arrival(ref)
        if at is None:
            lost += 1
            break
        latencies.append(at - start)
    return {**percentiles(latencies), "lost": lost, "interval_ms": every * 1000, "goal_max_ms": every * 1000 + 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--polled", type=int, default=20)
    parser.add_argument("--poll-seconds", type=int, default=2)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    url = database(args.db)
    store = Store(url)
    upgrade(store.engine)
    tracker = MemoryTracker()
    with TimedSlack() as fake:
        settings = Settings(database_url=url, slack_api_url=fake.api_url, slack_bot_token=TOKEN,
                            slack_signing_secret=SECRET, secret_key="bench-secret-key", port=0,
                            poll_seconds=args.poll_seconds)
        services = build_services(settings, store=store,
                                  trackers=lambda info: tracker if info.kind == "mlflow" else tracker_for(info))
        server = Server(services, port=0, host="127.0.0.1", scheduler=True).start()
        sender = SlackSender(server.url + "/slack/events", SECRET, fake)
        try:
            result = {
                "benchmark": "push_latency",
                "db": args.db,
                "push": pushed(server.url, sender, fake, args.pushes),
                "polled": polled(sender, fake, tracker, args.polled, args.poll_seconds) if args.polled else None,
            }
        finally:
            server.stop()
    store.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
