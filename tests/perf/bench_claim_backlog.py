"""Benchmark: what one outbox claim costs with a backlog of due rows, as after a long Slack outage.

    python tests/perf/bench_claim_backlog.py [--db sqlite|postgres] [--backlog 1000 10000 100000]

Two shapes of backlog, each at every size given:
- "spread": the rows over 1,000 channels (at 1,000 rows, one each), queued in turn.
- "one_busy": every row but one in one channel, queued first, and one row in another channel.

Each claim (`outbox.claim`, a batch of 50) runs in a transaction that is rolled back, so every
repeat sees the same backlog; the median of the repeats is printed. The reference is the claim at
the smallest backlog in the same run: "ratio" is each size's median over it, so a claim whose
cost does not grow with the backlog stays near 1. "lone_channel_first" says whether the one-row
channel's row was in the first batch of the one_busy shape (round-robin: it must be).
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
from sqlalchemy import delete, text  # noqa: E402

from bot.notify import outbox  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Outbox  # noqa: E402

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
TEAM = "T0BENCH"
SPREAD_CHANNELS = 1000
BATCH = 50


class Undo(Exception):
    """Raised to roll a claim back, so the next repeat sees the same backlog."""


def spread(n: int) -> list[str]:
    return [f"CS{i % SPREAD_CHANNELS:04d}" for i in range(n)]


def one_busy(n: int) -> list[str]:
    return ["CBUSY"] * (n - 1) + ["CLONE"]


SHAPES = {"spread": spread, "one_busy": one_busy}


def fill(store: Store, channels: list[str]) -> None:
    with store.tx() as s:
        s.execute(delete(Outbox))
    rows = [outbox.Queued(f"bench:{i}", TEAM, channel, "run_event", {"n": i}) for i, channel in enumerate(channels)]
    for start in range(0, len(rows), 10_000):
        with store.tx() as s:
            outbox.enqueue_many(s, rows[start : start + 10_000], T0)
    with store.engine.connect() as conn:  # fresh statistics, as autovacuum would gather after a backlog built up
        conn.execute(text("ANALYZE outbox" if store.is_postgres else "ANALYZE"))
        conn.commit()


def time_claims(store: Store, repeats: int) -> tuple[float, list[str]]:
    """The median claim in milliseconds, and the channels of the last batch, in claim order."""
    now = T0 + timedelta(seconds=1)
    times, channels = [], []
    for _ in range(repeats):
        try:
            with store.tx() as s:
                start = time.perf_counter()
                rows = outbox.claim(s, now, BATCH)
                times.append(time.perf_counter() - start)
                channels = [row.channel_id for row in rows]
                raise Undo
        except Undo:
            pass
    return statistics.median(times) * 1000, channels


def one_shape(store: Store, shape: str, sizes: list[int], repeats: int) -> dict:
    result: dict = {"claim_ms": {}, "ratio": {}}
    for n in sizes:
        fill(store, SHAPES[shape](n))
        ms, channels = time_claims(store, repeats)
        result["claim_ms"][str(n)] = round(ms, 2)
        if shape == "one_busy":
            result.setdefault("lone_channel_first", {})[str(n)] = "CLONE" in channels
        result.setdefault("claimed", {})[str(n)] = len(channels)
    base = result["claim_ms"][str(sizes[0])]
    result["ratio"] = {str(n): round(result["claim_ms"][str(n)] / base, 2) for n in sizes}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--backlog", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    store = Store(scratch_database(args.db, "rb_bench_claim"))
    upgrade(store.engine)
    result = {"benchmark": "claim_backlog", "db": args.db, "batch": BATCH, "repeats": args.repeats,
              "spread_channels": SPREAD_CHANNELS}
    for shape in SHAPES:
        result[shape] = one_shape(store, shape, sorted(args.backlog), args.repeats)
    store.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
