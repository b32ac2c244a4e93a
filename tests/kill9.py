"""The kill -9 trial: real `readybot serve` processes deliver queued notifications to a fake
Slack, one of them is SIGKILLed at a random (seeded) moment of the delivery and started again,
and every notification must then be in Slack exactly once.

Used by tests/e2e/test_kill9.py (a few trials, in CI) and tests/perf/bench_kill9.py (50+ trials,
on demand, prints JSON). Each trial stops by itself: what is not delivered by its deadline counts
as lost.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select, text

from bot.notify import outbox
from bot.notify.recover import EVENT_TYPE
from bot.sandbox import FakeSlack
from bot.store.db import Store
from bot.store.migrate import upgrade
from bot.store.models import Outbox

REPO = Path(__file__).resolve().parents[1]
TOKEN = "xoxb-kill9"
PG = os.environ.get("READYBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START_SECONDS = 60.0  # a process that does not answer /healthz by then fails the trial
DEADLINE_SECONDS = 60.0  # after the kill; the claim is 15 s, so this is four times what is needed


class SlowSlack(FakeSlack):
    """Slack taking a little while with each post, before and after it takes effect, so that a
    kill can land while a request is in flight either side of the message being posted."""

    def __init__(self, delay: float) -> None:
        super().__init__(tokens=(TOKEN,))
        self.delay = delay

    def handle_api(self, method: str, params: dict, headers: dict) -> tuple[int, dict, dict]:
        if method == "chat.postMessage":
            time.sleep(self.delay / 2)
        answer = super().handle_api(method, params, headers)
        if method == "chat.postMessage":
            time.sleep(self.delay / 2)
        return answer

    def posted_keys(self, channels: list[str]) -> list[str]:
        keys = []
        with self.lock:
            for channel in channels:
                for message in self.world.messages.get(channel, []):
                    metadata = message.get("metadata") or {}
                    if metadata.get("event_type") == EVENT_TYPE:
                        keys.append(metadata["event_payload"]["key"])
        return keys


@dataclass
class Trial:
    n: int
    db: str
    replicas: int
    seed: int
    expected: int = 0
    delivered: int = 0
    duplicated: int = 0
    lost: int = 0
    killed_after_s: float = 0.0  # from the first post seen to the SIGKILL
    held_at_kill: int = 0  # rows claimed (status sending) when the process died
    retake_s: float | None = None  # from the kill until every row claimed at that moment was sent
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class Database:
    """A fresh database per trial: a SQLite file, or a PostgreSQL schema of its own."""

    def __init__(self, kind: str, tag: str) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{tempfile.mkdtemp(prefix='kill9-')}/readybot.db"
        else:
            self.schema = f"rb_kill9_{os.getpid()}_{tag}"
            with create_engine(PG).begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            self.url = f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{self.schema}"
        self.store = Store(self.url)
        upgrade(self.store.engine)

    def drop(self) -> None:
        self.store.dispose()
        if self.kind == "postgres":
            engine = create_engine(PG)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            engine.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Replica:
    """One `readybot serve` process, configured through the environment as a deployment is."""

    def __init__(self, db_url: str, slack: FakeSlack, logs: Path, name: str) -> None:
        self.db_url, self.slack, self.logs, self.name = db_url, slack, logs, name
        self.proc: subprocess.Popen | None = None

    def start(self) -> Replica:
        self.port = free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": "kill9-signing-secret",
            "SLACK_API_URL": self.slack.api_url,
            "READYBOT_DATABASE_URL": self.db_url,
            "READYBOT_PORT": str(self.port),
            "READYBOT_POLL_SECONDS": "60",
            "READYBOT_SECRET_KEY": "kill9-secret-key",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        log = open(self.logs / f"{self.name}.log", "a")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=self.logs,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def ready(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(predicate, timeout: float, every: float = 0.05) -> bool:  # noqa: ANN001
    """Polls a condition of other processes (a port answering, rows sent): no event reaches us."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def queue(store: Store, count: int, channels: list[str], trial: int) -> list[str]:
    keys = [f"kill9:{trial}:{i}" for i in range(count)]
    now = datetime.now(UTC)
    with store.tx() as s:
        for i, key in enumerate(keys):
            run = {"id": i, "ref": f"r{i}", "name": f"run-{trial}-{i}", "experiment": None, "url": None,
                   "owner": None, "state": "finished", "step": 10, "total_steps": 10, "metrics": {"loss": 0.1},
                   "duration_s": 60.0, "heartbeat_at": None}
            outbox.enqueue(s, key=key, team_id="T0SANDBOX", channel_id=channels[i % len(channels)],
                           template="run_event", payload={"run": run, "connection": "mlflow", "event": "finished"},
                           now=now)
    return keys


def sending(store: Store) -> set[int]:
    with store.tx() as s:
        return set(s.scalars(select(Outbox.id).where(Outbox.status == "sending")))


def unsent(store: Store, ids: set[int] | None = None) -> int:
    query = select(func.count()).select_from(Outbox).where(Outbox.status != "sent")
    if ids is not None:
        query = query.where(Outbox.id.in_(ids))
    with store.tx() as s:
        return s.scalar(query)


def run_trial(n: int, db: str, replicas: int, seed: int, count: int = 40, delay: float = 0.03,
              kill_window: float = 1.0) -> Trial:
    trial = Trial(n=n, db=db, replicas=replicas, seed=seed, expected=count)
    rng = random.Random(seed)
    started = time.monotonic()
    database = Database(db, f"{n}_{seed}")
    logs = Path(tempfile.mkdtemp(prefix="kill9-logs-"))
    channels = [f"CK{i}" for i in range(4)]
    procs: list[Replica] = []
    with SlowSlack(delay) as slack:
        try:
            for channel in channels:
                slack.add_channel(channel, channel.lower())
            procs = [Replica(database.url, slack, logs, f"replica{i}").start() for i in range(replicas)]
            if not wait_until(lambda: all(p.ready() for p in procs), START_SECONDS):
                raise RuntimeError("readybot serve did not start:\n" + _logs(logs))
            keys = queue(database.store, count, channels, n)
            wait_until(lambda: slack.posted_keys(channels), DEADLINE_SECONDS, every=0.01)
            pause = rng.uniform(0, kill_window)
            time.sleep(pause)  # a random moment of the delivery: the point of the trial
            victim = rng.randrange(replicas)
            procs[victim].kill()
            killed_at = time.monotonic()
            trial.killed_after_s = round(pause, 3)
            held = sending(database.store)
            trial.held_at_kill = len(held)
            procs[victim].start()  # restarted, as a supervisor would
            if wait_until(lambda: unsent(database.store, held) == 0, DEADLINE_SECONDS, every=0.1):
                trial.retake_s = round(time.monotonic() - killed_at, 2)
            wait_until(lambda: unsent(database.store) == 0, max(0.0, killed_at + DEADLINE_SECONDS - time.monotonic()),
                       every=0.1)
        finally:
            for proc in procs:
                proc.stop()
        posted = slack.posted_keys(channels)
    database.drop()
    trial.delivered = len(set(posted) & set(keys))
    trial.duplicated = len(posted) - len(set(posted))
    trial.lost = len(set(keys) - set(posted))
    trial.seconds = round(time.monotonic() - started, 2)
    return trial


def _logs(folder: Path) -> str:
    return "\n".join(p.read_text()[-2000:] for p in sorted(folder.glob("*.log")))
