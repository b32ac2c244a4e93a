"""Shared fixtures: a real database on both backends, the Slack sandbox, and the running bot.

`store` is parametrized over SQLite and PostgreSQL, so every test that touches the database
runs on both. PostgreSQL is this machine's 127.0.0.1:5432 (trust auth, database `test`), or
READYBOT_TEST_POSTGRES_URL. In CI (CI=true) an unreachable PostgreSQL fails the run; elsewhere
those cases are skipped with the reason.
"""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.config import Settings
from bot.jobs.poll import poll_once
from bot.listeners.commands import WORKING
from bot.notify.dispatch import Dispatcher
from bot.sandbox import FakeSlack, SlackSender
from bot.server import Server
from bot.services import Services, build_services
from bot.store.db import Store
from bot.store.migrate import upgrade
from bot.store.models import Base
from integrations.base import ConnectionInfo, Tracker
from integrations.http import TrackerHttp
from integrations.registry import tracker_for
from tests.mlflow_server import mlflow_logger_fixture, mlflow_server_fixture  # noqa: F401 - fixtures

PG_URL = os.environ.get("READYBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clock:
    """The bot's `now`, moved by tests instead of sleeping."""

    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


_pg_state: dict[str, object] = {}
# A schema of our own per test session, so concurrent runs on one machine (developers, CI)
# never drop each other's tables.
PG_SCHEMA = f"rb_test_{os.getpid()}"
PG_SESSION_URL = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{PG_SCHEMA}"


def _postgres_ready() -> str | None:
    """Migrate a fresh schema once per session; returns a skip reason or None."""
    if "error" in _pg_state:
        return _pg_state["error"]  # type: ignore[return-value]
    try:
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{PG_SCHEMA}"'))
        admin.dispose()
        engine = create_engine(PG_SESSION_URL)
        upgrade(engine)
        engine.dispose()
        _pg_state["error"] = None
        atexit.register(_drop_schema)
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        _pg_state["error"] = f"PostgreSQL not reachable at {PG_URL.split('@')[-1]}: {type(exc).__name__}"
    return _pg_state["error"]  # type: ignore[return-value]


def _drop_schema() -> None:
    try:
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
        admin.dispose()
    except Exception:  # noqa: BLE001 - best effort at exit
        pass


def _truncate(store: Store) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with store.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # noqa: ANN001
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'readybot.db'}"
    reason = _postgres_ready()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return PG_SESSION_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session, copied for each test: migrating from scratch
    rebuilds every table (0005) and costs each test most of a second."""
    path = tmp_path_factory.mktemp("template") / "readybot.db"
    template = Store(f"sqlite:///{path}")
    upgrade(template.engine)
    template.dispose()  # closing the last connection folds the WAL into the file
    return path


@pytest.fixture
def store(db_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    if db_url.startswith("sqlite:///"):
        shutil.copyfile(request.getfixturevalue("sqlite_template"), db_url.removeprefix("sqlite:///"))
    store = Store(db_url)
    if store.is_postgres:
        _truncate(store)
    else:
        upgrade(store.engine)  # at head already: a no-op that proves it
    yield store
    store.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(tokens=(BOT_TOKEN,)) as fake:
        yield fake


def make_settings(fake: FakeSlack, db_url: str, **overrides) -> Settings:  # noqa: ANN003
    values = dict(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.api_url,
        database_url=db_url,
        port=0,
        poll_seconds=60,
        secret_key="test-secret-key",
    )
    values.update(overrides)
    return Settings(**values)


def quick_trackers(info: ConnectionInfo) -> Tracker:
    """Real trackers whose HTTP retries do not wait in real time (tests never sleep)."""
    if info.kind == "mlflow":
        from integrations.mlflow import MlflowTracker

        return MlflowTracker(info, http=TrackerHttp(info.url, timeout=5, retries=2, sleep=lambda _s: None))
    return tracker_for(info)


@pytest.fixture
def services(store: Store, fake_slack: FakeSlack, clock: Clock) -> Services:
    settings = make_settings(fake_slack, store.url)
    return build_services(settings, store=store, clock=clock, trackers=quick_trackers)


@dataclass
class Bot:
    """The running bot as Slack sees it, plus the levers a test pulls instead of waiting."""

    server: Server
    services: Services
    slack: SlackSender
    fake: FakeSlack
    clock: Clock

    def poll(self) -> int:
        return poll_once(self.services)

    def deliver(self) -> int:
        return Dispatcher(self.services.store, self.services.clients, self.clock).drain()

    def cycle(self) -> int:
        """One poll and the deliveries it caused, as the scheduler would do."""
        self.poll()
        return self.deliver()

    def command(self, text: str, **kw):  # noqa: ANN003, ANN201
        return self.slack.command(text, **kw)

    def settle(self) -> None:
        """Wait until every acked command, click and form has done what it goes on doing after
        its answer (Bolt runs that on after the ack)."""
        assert self.server.listeners.wait_idle(timeout=10), "a listener still runs after 10 s"

    def reply(self, text: str, **kw) -> str:  # noqa: ANN003
        """Send /ready <text> and return what the user sees (the ack body or the response_url post)."""
        before = len(self.fake.responses())
        resp = self.slack.command(text, **kw)
        assert resp.status_code == 200, resp.text
        if resp.text.strip() and not (answer := resp.json().get("text", "")).startswith(WORKING):
            return answer
        # Slow commands ack empty, or (past the ack budget, as on a loaded machine) with a
        # "working" note, and answer through response_url from a listener thread.
        self.fake.wait_for(lambda: len(self.fake.responses()) > before)
        later = self.fake.responses()[before:]
        return later[-1].get("text", "") if later else ""


@pytest.fixture
def bot(services: Services, fake_slack: FakeSlack, clock: Clock) -> Iterator[Bot]:
    server = Server(services, port=0, host="127.0.0.1", scheduler=False).start()
    sender = SlackSender(server.url + "/slack/events", SIGNING_SECRET, fake_slack)
    try:
        yield Bot(server, services, sender, fake_slack, clock)
    finally:
        server.stop()
