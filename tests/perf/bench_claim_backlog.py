"""Benchmark: what one outbox claim costs with a backlog of due rows, as after a long Slack outage.

    python tests/perf/bench_claim_backlog.py [--db sqlite|postgres] [--backlog 1000 10000 100000]

Two shapes of backlog, each at every size given:
- "spread": the rows over 1,000 channels (at 1,000 rows, one each), queued in turn.
- "one_busy": every row but one in one channel, queued first, and one row in another channel.

Each claim (`outbox.claim`, a batch of 50) runs in a transaction that is rolled back, so every
repeat sees the same backlog. Printed per size: "claim_ms", the fastest and the median repeat
(the machine is shared: the fastest is the claim's own cost, the median adds the neighbours'),
and "reads", what the claim read, counted (tests/db_reads.py: rows and index entries on
PostgreSQL, virtual machine steps in hundreds on SQLite). The reference is the claim at the
smallest backlog in the same run: "ratio" is each size's reads and fastest time over it, so a
claim whose cost does not grow with the backlog stays near 1. "lone_channel_first" says whether
the one-row channel's row was in the first batch of the one_busy shape (round-robin: it must be).
Before each size the table is vacuumed and analysed, as autovacuum does while a backlog builds.
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
from sqlalchemy import delete  # noqa: E402

from bot.notify import outbox  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Outbox  # noqa: E402
from tests.db_reads import rows_read  # noqa: E402

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
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE outbox" if store.is_postgres else "ANALYZE")


def time_claims(store: Store, repeats: int) -> tuple[list[float], int, list[str]]:
    """Each claim's milliseconds, what one more claim read (counted apart: SQLite's counting slows
    it), and the channels of its batch in claim order."""
    now = T0 + timedelta(seconds=1)
    times, reads, channels = [], 0, []
    for n in range(repeats + 1):
        try:
            with store.tx() as s:
                if n < repeats:
                    start = time.perf_counter()
                    outbox.claim(s, now, BATCH)
                    times.append((time.perf_counter() - start) * 1000)
                else:
                    with rows_read(s, "outbox") as read:
                        channels = [row.channel_id for row in outbox.claim(s, now, BATCH)]
                    reads = read[0]
                raise Undo
        except Undo:
            pass
    return times, reads, channels


def one_shape(store: Store, shape: str, sizes: list[int], repeats: int) -> dict:
    result: dict = {"claim_ms": {}, "reads": {}, "claimed": {}}
    for n in sizes:
        fill(store, SHAPES[shape](n))
        times, reads, channels = time_claims(store, repeats)
        result["claim_ms"][str(n)] = {"fastest": round(min(times), 2), "median": round(statistics.median(times), 2)}
        result["reads"][str(n)] = reads
        result["claimed"][str(n)] = len(channels)
        if shape == "one_busy":
            result.setdefault("lone_channel_first", {})[str(n)] = "CLONE" in channels
    base = str(sizes[0])
    result["ratio"] = {str(n): {"reads": round(result["reads"][str(n)] / result["reads"][base], 2),
                                "fastest_ms": round(result["claim_ms"][str(n)]["fastest"]
                                                    / result["claim_ms"][base]["fastest"], 2)} for n in sizes}
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
