"""The tracker fault suite of issue 12 ("Show"): a FaultProxy (tests/fault_proxy.py) in front of
the real MLflow server answers each fault in turn for one connection, while a second connection
talks to the same server directly. Poll cycles are driven by calling poll_once with the bot's
injected clock, one poll interval apart, so nothing waits for time; the only real waits are the
tracker's own (small) timeout on a hung request.

Per fault it measures what a user would notice: run state changes of the faulty connection's
run (expected 0), messages queued (0), the marker /ready runs shows for it, whether the healthy
connection's run still moved, and how many cycles (and seconds of the injected clock) the run
needs to be shown fresh again once the fault clears.
"""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from bot.sandbox import SlackSender
from bot.server import Server
from bot.services import build_services
from bot.store.models import Outbox, Run
from integrations.base import ConnectionInfo, Tracker
from integrations.http import TrackerHttp
from integrations.mlflow import MlflowTracker
from integrations.registry import tracker_for
from tests.conftest import SIGNING_SECRET, T0, Bot, make_settings
from tests.fault_proxy import Canned, Fault, FaultProxy

WRONG_TYPES = {"runs": [{"info": {"run_id": None, "status": 12}, "data": {"metrics": "zz"}}]}  # issue 12
FIFTY_MB = b'{"runs": "' + b"x" * (50 * 2**20) + b'"}'


def _always(answer: object) -> Fault:
    return lambda path, body: answer


# name -> the proxy's answer to every request while the fault lasts
FAULTS: dict[str, Fault] = {
    "http 500": _always(Canned(500, b'{"error_code": "INTERNAL_ERROR"}')),
    "429 Retry-After": _always(Canned(429, b"{}", {"Retry-After": "30"})),
    "hang": _always(Canned(hang=True)),
    "truncated JSON": _always(Canned(200, b'{"runs": [{"info": {"run_id": "ab')),
    "empty objects": _always({}),
    "wrong types": _always(WRONG_TYPES),
    "50 MB body": _always(Canned(200, FIFTY_MB)),
}
TIMEOUT = 0.5  # seconds: a hung tracker costs a poll this long per attempt, not the default 10
MARKERS = {"stale": "tracker not answering", "not listed": "not listed by"}


@dataclass
class Figures:
    fault: str
    state_changes: int
    messages: int
    marker: str  # what /ready runs showed for the faulty connection's run
    healthy_polled: bool  # the other connection's run moved on during the fault
    recovery_cycles: int | None  # polls after the fault cleared until the run was fresh
    recovery_minutes: float | None  # the same on the injected clock
    fault_poll_seconds: float  # wall time of the slowest poll cycle during the fault


def run_fault(bot, proxy, mlflow_logger, name: str, flaky_run: str, healthy_run: str, cycles: int = 2,
              max_recovery: int = 3) -> Figures:  # noqa: ANN001
    """One fault, start to end: the caller set both runs up as tracked and freshly polled."""
    state_before = _state(bot, flaky_run)
    messages_before = _outbox(bot)
    step_before = _step(bot, healthy_run)
    proxy.fault = FAULTS[name]
    slowest, states = 0.0, set()
    for _ in range(cycles):
        _log_step(bot, mlflow_logger, healthy_run)
        _log_step(bot, mlflow_logger, flaky_run)
        slowest = max(slowest, _cycle(bot))
        states.add(_state(bot, flaky_run))
    line = _line(bot, flaky_run)
    marker = next((m for m, text in MARKERS.items() if text in line), "none")
    healthy_polled = _step(bot, healthy_run) > (step_before or 0)
    messages = _outbox(bot) - messages_before
    proxy.fault = None
    started = bot.clock.now
    recovery = None
    for n in range(1, max_recovery + 1):
        _cycle(bot)
        if _fresh(bot, flaky_run):
            recovery = n
            break
    return Figures(
        fault=name,
        state_changes=len(states - {state_before}),
        messages=messages,
        marker=marker,
        healthy_polled=healthy_polled,
        recovery_cycles=recovery,
        recovery_minutes=(bot.clock.now - started).total_seconds() / 60 if recovery else None,
        fault_poll_seconds=round(slowest, 2),
    )


def small_timeout_trackers(info: ConnectionInfo) -> Tracker:
    if info.kind == "mlflow":
        return MlflowTracker(info, http=TrackerHttp(info.url, timeout=TIMEOUT, retries=1, sleep=lambda _s: None))
    return tracker_for(info)


@contextmanager
def faulty_bot(store, fake_slack, clock, mlflow_server: str) -> Iterator[tuple[Bot, FaultProxy]]:  # noqa: ANN001
    """The running bot with a small tracker timeout, and a FaultProxy in front of MLflow."""
    services = build_services(make_settings(fake_slack, store.url), store=store, clock=clock,
                              trackers=small_timeout_trackers)
    server = Server(services, port=0, host="127.0.0.1", scheduler=False).start()
    proxy = FaultProxy(mlflow_server)
    try:
        yield Bot(server, services, SlackSender(server.url + "/slack/events", SIGNING_SECRET, fake_slack),
                  fake_slack, clock), proxy
    finally:
        proxy.close()
        server.stop()


def track_two_runs(bot, proxy, mlflow_server: str, mlflow_logger) -> tuple[str, str]:  # noqa: ANN001
    """One run behind the proxy (`flaky:`) and one on a direct connection (`healthy:`), polled once."""
    assert "Connected" in bot.reply(f"connect mlflow {proxy.url} as flaky")
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server} as healthy")
    experiment = mlflow_logger.create_experiment(f"faults-{uuid.uuid4().hex[:8]}")
    start = int(T0.timestamp() * 1000)
    flaky = mlflow_logger.create_run(experiment, start_ms=start, name="flaky-run")
    healthy = mlflow_logger.create_run(experiment, start_ms=start, name="healthy-run")
    for run_id in (flaky, healthy):
        mlflow_logger.log_metrics(run_id, [("loss", 1.0, 1, start)])
    assert "Now tracking" in bot.reply(f"track flaky:{flaky}")
    assert "Now tracking" in bot.reply(f"track healthy:{healthy}")
    bot.cycle()
    return flaky, healthy


def as_rows(figures: list[Figures]) -> list[dict]:
    return [asdict(f) for f in figures]


def _cycle(bot) -> float:  # noqa: ANN001
    bot.clock.advance(seconds=bot.services.settings.poll_seconds)
    began = time.monotonic()
    bot.cycle()
    return time.monotonic() - began


def _log_step(bot, mlflow_logger, run_id: str) -> None:  # noqa: ANN001
    step = (_step(bot, run_id) or 0) + 1
    mlflow_logger.log_metrics(run_id, [("loss", 1 / step, step, int(bot.clock.now.timestamp() * 1000))])


def _run(bot, ref: str) -> Run:  # noqa: ANN001
    with bot.services.store.tx() as s:
        return s.scalars(select(Run).where(Run.ref == ref)).one()


def _state(bot, ref: str) -> str:  # noqa: ANN001
    return _run(bot, ref).state


def _step(bot, ref: str) -> int | None:  # noqa: ANN001
    return _run(bot, ref).step


def _fresh(bot, ref: str) -> bool:  # noqa: ANN001
    run = _run(bot, ref)
    return run.stale_since is None and run.missing_since is None and run.polled_at == bot.clock.now


def _outbox(bot) -> int:  # noqa: ANN001
    with bot.services.store.tx() as s:
        return s.scalar(select(func.count()).select_from(Outbox))


def _line(bot, ref: str) -> str:  # noqa: ANN001
    name = _run(bot, ref).name or ref
    lines = [html.unescape(x) for x in bot.reply("runs").splitlines()]
    return next((x for x in lines if name in x), "")


