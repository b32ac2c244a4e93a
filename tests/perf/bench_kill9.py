"""Benchmark: the kill -9 test of issue 12, at length. Real `readybot serve` processes deliver
queued notifications to a fake Slack; one is SIGKILLed at a random (seeded) moment of the
delivery and restarted. Per trial: expected / delivered / duplicated / lost, and the time to
retake the dead sender's rows. Trials cycle through SQLite, PostgreSQL, and PostgreSQL with three
replicas.

    python tests/perf/bench_kill9.py [--trials 51] [--seed 1] [--notifications 40]

Prints JSON: every trial, and the totals. Each trial stops by itself (deadline 60 s after the kill).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from tests.kill9 import run_trial  # noqa: E402

KINDS = [("sqlite", 1), ("postgres", 1), ("postgres", 3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=51)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--notifications", type=int, default=40)
    args = parser.parse_args()

    started = time.monotonic()
    trials = []
    for n in range(args.trials):
        db, replicas = KINDS[n % len(KINDS)]
        trial = run_trial(n=n, db=db, replicas=replicas, seed=args.seed * 1000 + n, count=args.notifications)
        trials.append(trial.as_dict())
        print(json.dumps(trial.as_dict()), file=sys.stderr, flush=True)  # progress
    retakes = [t["retake_s"] for t in trials if t["retake_s"] is not None and t["held_at_kill"]]
    totals = {
        "trials": len(trials),
        "expected": sum(t["expected"] for t in trials),
        "delivered": sum(t["delivered"] for t in trials),
        "duplicated": sum(t["duplicated"] for t in trials),
        "lost": sum(t["lost"] for t in trials),
        "kills_with_rows_held": len(retakes),
        "retake_s": {"median": statistics.median(retakes), "max": max(retakes)} if retakes else None,
        "never_retaken": sum(1 for t in trials if t["retake_s"] is None),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps({"benchmark": "kill9", "totals": totals, "trials": trials}, indent=2))


if __name__ == "__main__":
    main()
