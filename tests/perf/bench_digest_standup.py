"""Benchmark: a channel digest over 500 runs, and a standup round for 50 people, from the job to
the messages in (fake) Slack, against a bare slack_sdk client posting the same messages.

    python tests/perf/bench_digest_standup.py [--runs 500] [--people 50] [--repeat 5] [--db sqlite|postgres]

- "digest": `post_digest` (read the channel's runs, targets and reviews, assemble, queue) and the
  dispatcher's delivery, until chat.postMessage has carried it. Reference: one plain query of
  the channel's runs plus a bare WebClient posting the very messages readybot posted, to the
  same fake.
- "standup": `/ready standup now` as the job runs it (list the members, open the round, one
  answer row each) and the prompts' delivery, until all 50 DMs are posted. Reference: a bare
  WebClient sending the same 50 DMs.
Prints one JSON object with medians over --repeat rounds and the ratio to the reference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from benchdb import scratch_database  # noqa: E402 - tests/perf is on sys.path when run as a script
from slack_sdk import WebClient  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.jobs.digests import post_digest  # noqa: E402
from bot.jobs.standup_rounds import open_now  # noqa: E402
from bot.jobs.standups import standup_tick  # noqa: E402
from bot.notify.dispatch import Dispatcher  # noqa: E402
from bot.sandbox import FakeSlack  # noqa: E402
from bot.sandbox.world import BOT_USER_ID, TEAM_ID  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Connection, Run, Target, Watch, WatchRun  # noqa: E402

TOKEN = "xoxb-bench"
TEAM, CHANNEL = TEAM_ID, "C0BENCH"
# Monday 14:00 UTC: working hours in Berlin, New York and UTC alike, so `standup now` asks all
# 50 at once (outside their working hours a member would be asked later).
T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
STATES = ("running", "running", "running", "finished", "failed", "stalled", "queued")


def seed(store: Store, runs: int) -> None:
    with store.tx() as s:
        conn = Connection(team_id=TEAM, name="prod", kind="mlflow", url="http://mem", options={}, created_at=T0)
        s.add(conn)
        s.flush()
        rows = [dict(connection_id=conn.id, ref=f"run{i:04d}", name=f"resnet-{i}", state=STATES[i % len(STATES)],
                     step=100 * (i % 97), total_steps=10_000, metrics={"loss": 1.0 / (1 + i % 50), "val_acc": 0.5 + (i % 40) / 100},
                     params={"lr": "0.001", "batch": "64"}, started_at=T0 - timedelta(hours=5), heartbeat_at=T0,
                     progress_at=T0, changed_at=T0 - timedelta(hours=i % 30), owner=f"user{i % 50}", active=True,
                     created_at=T0, updated_at=T0)
                for i in range(runs)]
        s.execute(insert(Run), rows)
        ids = dict(s.execute(select(Run.ref, Run.id)).all())
        s.execute(insert(Watch), [dict(team_id=TEAM, channel_id=CHANNEL, connection_id=conn.id, ref=ref,
                                       is_experiment=False, created_by="U1", created_at=T0) for ref in ids])
        watches = dict(s.execute(select(Watch.ref, Watch.id)).all())
        s.execute(insert(WatchRun), [dict(watch_id=watches[ref], run_id=run_id) for ref, run_id in ids.items()])
        s.add(Target(team_id=TEAM, channel_id=CHANNEL, metric="val_acc", op=">=", threshold=0.9, created_by="U1",
                     created_at=T0))


def timed(action) -> float:  # noqa: ANN001
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bare_posts(client: WebClient, posts: list[dict]) -> float:
    """The reference: the same chat.postMessage calls, made by a bare client."""
    return timed(lambda: [client.chat_postMessage(channel=p["channel"], text=p.get("text", ""),
                                                  blocks=p.get("blocks")) for p in posts])


def bare_query(store: Store) -> float:
    """The reference's read: the channel's watched runs, every column, in one plain query."""
    query = (select(Run).join(WatchRun, WatchRun.run_id == Run.id).join(Watch, Watch.id == WatchRun.watch_id)
             .where(Watch.team_id == TEAM, Watch.channel_id == CHANNEL))
    with store.engine.connect() as conn:
        return timed(lambda: conn.execute(query).all())


def posted_since(fake: FakeSlack, mark: int) -> list[dict]:
    return [dict(call.params) for call in fake.calls("chat.postMessage")[mark:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    url = scratch_database(args.db, "bench_digest_standup")
    store = Store(url)
    upgrade(store.engine)
    seed(store, args.runs)
    with FakeSlack(tokens=(TOKEN,)) as fake:
        people = [f"U{i:04d}" for i in range(args.people)]
        for i, user in enumerate(people):
            fake.add_user(user, f"user{i}", tz=("Europe/Berlin", "America/New_York", "UTC")[i % 3])
        fake.add_channel(CHANNEL, "bench", [BOT_USER_ID, *people])
        now = [T0]
        settings = Settings(database_url=url, slack_api_url=fake.api_url, slack_bot_token=TOKEN)
        services = build_services(settings, store=store, clock=lambda: now[0])
        dispatcher = Dispatcher(store, services.clients, lambda: now[0])
        bare = WebClient(token=TOKEN, base_url=fake.api_url)

        digest, digest_ref, standup, standup_ref = [], [], [], []
        for round_no in range(args.repeat):
            now[0] = T0 + timedelta(days=round_no + 2 * (round_no // 5))  # weekdays only
            mark = len(fake.calls("chat.postMessage"))
            digest.append(timed(lambda: (post_digest(services, TEAM, CHANNEL, now[0].date().isoformat(), now[0]),
                                         dispatcher.drain())))
            digest_ref.append(bare_query(store) + bare_posts(bare, posted_since(fake, mark)))

            mark = len(fake.calls("chat.postMessage"))
            standup.append(timed(lambda: (open_now(services, TEAM, CHANNEL, "U0000", now[0]), standup_tick(services),
                                          dispatcher.drain())))
            sent = posted_since(fake, mark)
            dms = [p for p in sent if p["channel"] != CHANNEL]
            assert len(dms) == args.people, f"{len(dms)} prompts for {args.people} people"
            standup_ref.append(bare_posts(bare, sent))
    store.dispose()

    def figures(ours: list[float], ref: list[float]) -> dict:
        mine, theirs = statistics.median(ours), statistics.median(ref)
        return {"seconds_median": round(mine, 4), "reference_seconds_median": round(theirs, 4),
                "ratio": round(mine / theirs, 2)}

    print(json.dumps({"benchmark": "digest_standup", "db": args.db, "runs": args.runs, "people": args.people,
                      "repeat": args.repeat, "digest": figures(digest, digest_ref),
                      "standup": figures(standup, standup_ref)}))


if __name__ == "__main__":
    main()
