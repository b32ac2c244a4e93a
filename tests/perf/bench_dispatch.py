"""Benchmark: delivering 1,000 queued notifications to 100 channels, beside a bare slack_sdk
WebClient posting the same messages to the same fake Slack, measured in this one run.

    python tests/perf/bench_dispatch.py [--notifications 1000] [--channels 100] [--db sqlite|postgres]

Two rounds, each printed as JSON:
- "unlimited": the fake posts as fast as it can; the reference is a bare loop of chat.postMessage.
- "per_channel_limit": the fake enforces Slack's limit of about 1 message per second per channel
  (429 with Retry-After, https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting);
  the reference is a bare loop that waits out each channel's second itself, round-robin over the
  channels, which is as fast as that limit allows. "first_post_s" per channel shows whether a busy
  channel starves the others: every channel's first message should go out in the first seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.notify import outbox  # noqa: E402
from bot.notify.dispatch import Dispatcher  # noqa: E402

try:  # as bot/jobs/scheduler.py builds it for `readybot serve`
    from bot.notify.dispatch import SENDERS  # noqa: E402
except ImportError:  # the code before senders at once
    SENDERS = None
try:
    from bot.notify.dispatch import DispatchLoop  # noqa: E402
except ImportError:  # the code before the delivery thread, for before/after figures
    DispatchLoop = None  # noqa: N816
from benchdb import scratch_database  # noqa: E402 - tests/perf is on sys.path when run as a script

from bot.notify.fit import fit_message  # noqa: E402
from bot.notify.messages import build  # noqa: E402
from bot.sandbox import FakeSlack  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Outbox  # noqa: E402

TOKEN = "xoxb-bench"
TIME_LIMIT = 300.0  # seconds; a round slower than this stops and says so


class TimedSlack(FakeSlack):
    """The fake Slack, noting when each message was accepted, per channel."""

    def __init__(self) -> None:
        super().__init__(tokens=(TOKEN,))
        self.posted: dict[str, list[float]] = {}
        self.refused = 0

    def handle_api(self, method: str, params: dict, headers: dict) -> tuple[int, dict, dict]:
        status, body, extra = super().handle_api(method, params, headers)
        if method == "chat.postMessage":
            with self.lock:
                if body.get("ok"):
                    self.posted.setdefault(body["channel"], []).append(time.monotonic())
                elif status == 429:
                    self.refused += 1
        return status, body, extra

    def reset(self, channels: list[str]) -> None:
        with self.lock:
            self.posted.clear()
            self.refused = 0
            self._post_buckets.clear()
            for channel in channels:
                self.world.messages.pop(channel, None)


def database(kind: str) -> str:
    return scratch_database(kind, "rb_bench_dispatch")


def payload(n: int) -> dict:
    run = {"id": n, "ref": f"r{n}", "name": f"run-{n}", "experiment": None, "url": None, "owner": None,
           "state": "finished", "step": 10, "total_steps": 10, "metrics": {"loss": 0.1}, "duration_s": 60.0,
           "heartbeat_at": None}
    return {"run": run, "connection": "mlflow", "event": "finished"}


def plan(n: int, channels: list[str]) -> list[tuple[str, dict]]:
    """n notifications over the channels, in a shuffled (seeded) order, as events arrive."""
    order = [(channels[i % len(channels)], payload(i)) for i in range(n)]
    random.Random(7).shuffle(order)
    return order


def enqueue_all(store: Store, work: list[tuple[str, dict]], round_name: str) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with store.tx() as s:
        for i, (channel, body) in enumerate(work):
            outbox.enqueue(s, key=f"{round_name}:{i}", team_id="T0SANDBOX", channel_id=channel,
                           template="run_event", payload=body, now=now)


def unsent(store: Store) -> int:
    with store.tx() as s:
        return s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status != "sent"))


def run_dispatcher(services, fake: TimedSlack, work, round_name: str) -> dict:  # noqa: ANN001
    """The bot's delivery thread as `readybot serve` runs it, woken by the commit that queues the
    rows. (Code from before the thread existed: drain() in a loop, looking again every 20 ms,
    which flatters it: the bot itself looked every 2 s.)"""
    dispatcher = Dispatcher(services.store, services.clients, **({"senders": SENDERS} if SENDERS else {}))
    loop = DispatchLoop(dispatcher).start() if DispatchLoop else None
    enqueue_all(services.store, work, round_name)  # its commit wakes the thread
    start = time.monotonic()
    while unsent(services.store) and time.monotonic() - start < TIME_LIMIT:
        if loop is not None:
            time.sleep(0.02)  # watching another thread's progress
        elif dispatcher.drain() == 0:
            time.sleep(0.02)
    elapsed = time.monotonic() - start
    if loop is not None:
        loop.stop()
    return summary(fake, start, elapsed, len(work), left=unsent(services.store))


def run_bare(fake: TimedSlack, work, paced: float | None) -> dict:  # noqa: ANN001
    """The reference: one WebClient posting the same rendered messages. With `paced`, it waits
    until each channel's limit allows its next message, taking the channels round-robin."""
    client = WebClient(token=TOKEN, base_url=fake.api_url)
    kwargs = [(channel, fit_message(build("run_event", body))[0].as_kwargs()) for channel, body in work]
    if paced:
        kwargs = round_robin(kwargs)
    last: dict[str, float] = {}
    start = time.monotonic()
    for channel, kw in kwargs:
        if paced and channel in last:
            wait = last[channel] + 1.0 / paced - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        client.chat_postMessage(channel=channel, **kw)
        last[channel] = time.monotonic()
    return summary(fake, start, time.monotonic() - start, len(work), left=0)


def round_robin(items: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    queues: dict[str, list] = {}
    for channel, kw in items:
        queues.setdefault(channel, []).append((channel, kw))
    out = []
    while any(queues.values()):
        for q in queues.values():
            if q:
                out.append(q.pop(0))
    return out


def summary(fake: TimedSlack, start: float, elapsed: float, n: int, left: int) -> dict:
    with fake.lock:
        firsts = sorted(times[0] - start for times in fake.posted.values())
        posted = sum(len(t) for t in fake.posted.values())
        refused = fake.refused
    return {
        "seconds": round(elapsed, 3),
        "per_second": round(n / elapsed, 1) if elapsed else None,
        "posted": posted,
        "left_unsent": left,
        "refused_429": refused,
        "first_post_s": {"median": round(firsts[len(firsts) // 2], 3) if firsts else None,
                         "max": round(firsts[-1], 3) if firsts else None},
    }


def one_round(services, fake: TimedSlack, work, channels, limit: float | None, name: str) -> dict:  # noqa: ANN001
    if limit:
        fake.limit_posts(per_second=limit, burst=1)
    fake.reset(channels)
    bare = run_bare(fake, work, paced=limit)
    fake.reset(channels)
    ours = run_dispatcher(services, fake, work, name)
    result = {"readybot": ours, "bare_client": bare, "ratio": round(ours["seconds"] / bare["seconds"], 2)}
    if limit:
        per_channel = -(-len(work) // len(channels))
        result["limit_allows_s"] = round((per_channel - 1) / limit, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    url = database(args.db)
    store = Store(url)
    upgrade(store.engine)
    channels = [f"CB{i:04d}" for i in range(args.channels)]
    with TimedSlack() as fake:
        for channel in channels:
            fake.add_channel(channel, channel.lower())
        settings = Settings(database_url=url, slack_api_url=fake.api_url, slack_bot_token=TOKEN)
        services = build_services(settings, store=store)
        work = plan(args.notifications, channels)
        result = {
            "benchmark": "dispatch",
            "db": args.db,
            "notifications": args.notifications,
            "channels": args.channels,
            "unlimited": one_round(services, fake, work, channels, None, "unlimited"),
            "per_channel_limit": one_round(services, fake, work, channels, 1.0, "limited"),
        }
    store.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
