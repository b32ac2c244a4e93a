"""The tracker fault suite (tests/fault_suite.py) for longer: more poll cycles per fault and
several rounds, on SQLite or PostgreSQL, printing the per-fault figures as a JSON table.

    python tests/perf/bench_tracker_faults.py [--cycles 10] [--rounds 3] [--db sqlite|postgres]

Starts a real `mlflow server`, the fake Slack and the bot; poll cycles are driven with the
injected clock, as in tests/integration/test_tracker_faults.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from bot.sandbox import FakeSlack  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from tests.conftest import BOT_TOKEN, PG_SESSION_URL, Clock, _postgres_ready  # noqa: E402
from tests.fault_suite import FAULTS, as_rows, faulty_bot, run_fault, track_two_runs  # noqa: E402
from tests.mlflow_server import MlflowLogger, running_mlflow_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10, help="poll cycles while each fault lasts")
    parser.add_argument("--rounds", type=int, default=3, help="times the whole list of faults is run")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    if args.db == "postgres" and (reason := _postgres_ready()):
        sys.exit(reason)
    url = PG_SESSION_URL if args.db == "postgres" else f"sqlite:///{tempfile.mkdtemp()}/faults.db"
    store = Store(url)
    upgrade(store.engine)
    rows = []
    with running_mlflow_server() as mlflow, FakeSlack(tokens=(BOT_TOKEN,)) as fake:
        logger = MlflowLogger(mlflow)
        with faulty_bot(store, fake, Clock(), mlflow) as (bot, proxy):
            flaky, healthy = track_two_runs(bot, proxy, mlflow, logger)
            for round_no in range(args.rounds):
                for name in FAULTS:
                    figures = run_fault(bot, proxy, logger, name, flaky, healthy, cycles=args.cycles)
                    rows.append({"round": round_no + 1, **as_rows([figures])[0]})
    store.dispose()
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
