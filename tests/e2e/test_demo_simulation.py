"""`readybot demo` with its simulated runs: within two (compressed) minutes #ml-team shows the
whole product, fed through the real push API. The demo clock runs 10x faster here, and the test
waits for each message with the sandbox's bounded wait_for, never a sleep. The stall, an event
with a window rather than a moment, is shown on a demo whose clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bot.cli import build_parser
from bot.config import ConfigError, Settings
from bot.sandbox.curves import SCENARIO
from bot.sandbox.demo import Demo, fresh_database, instructions, start_demo, watch_mlflow
from bot.sandbox.simulator import DemoClock
from bot.store.models import Connection

SPEED = 10.0  # two demo minutes in twelve seconds
WAIT = 60.0  # seconds: generous for a loaded CI machine; the wait ends as soon as the message is there


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:  # noqa: ANN001
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    settings = Settings(database_url=f"sqlite:///{db}", secret_key="test-secret-key")
    running = start_demo(settings, port=0, sandbox_port=0, simulate=True, clock=DemoClock(SPEED), tick=0.3)
    try:
        yield running
    finally:
        running.stop()


def channel_message(demo: Demo, *needles: str) -> dict:
    """Wait until #ml-team has a bot message containing every needle; return it."""
    def found() -> dict | None:
        return next((m for m in demo.fake.messages("C2") if all(n in (m.get("text") or "") for n in needles)), None)
    message = demo.fake.wait_for(found, timeout=WAIT)
    assert message, f"#ml-team never showed a message with {needles}: {[m.get('text') for m in demo.fake.messages('C2')]}"
    return message


def button_labels(message: dict) -> list[str]:
    return [e["text"]["text"] for b in message.get("blocks") or [] for e in b.get("elements") or []
            if e.get("type") == "button"]


def test_target_alert_arrives_with_its_chart_in_the_thread(demo):
    alert = channel_message(demo, "resnet50-finetune", "reached its target")
    assert {"Acknowledge", "Schedule results review"} <= set(button_labels(alert))
    reply = demo.fake.wait_for(lambda: next((m for m in demo.fake.messages("C2")
                                             if m.get("thread_ts") == alert["ts"] and m.get("files")), None),
                               timeout=WAIT)
    chart = next(f for f in demo.fake.files() if f["id"] == reply["files"][0]["id"])
    assert chart["content"].startswith(b"\x89PNG")
    channel_message(demo, "resnet50-finetune", "finished")


def test_diverging_run_fails_with_a_nan_loss_alert(demo):
    channel_message(demo, "vit-lr3e-3", "failed")
    channel_message(demo, "vit-lr3e-3", "non-finite `loss`")


class ManualClock(DemoClock):
    """Demo time that moves only when the test sets it."""

    def __init__(self) -> None:
        super().__init__()
        self.t = 0.0

    def elapsed(self) -> float:
        return self.t


@pytest.fixture
def stepped_demo(tmp_path) -> Iterator[Demo]:  # noqa: ANN001
    """The demo on a clock the test moves, for a window a loaded machine could miss in real time:
    at 10x speed the hang outlasts the one-minute stall time by only 1.5 real seconds."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.db'}", secret_key="test-secret-key")
    running = start_demo(settings, port=0, sandbox_port=0, simulate=True, clock=ManualClock(), tick=0.3)
    try:
        yield running
    finally:
        running.stop()


def test_stalled_run_is_reported_and_then_its_recovery(stepped_demo):
    demo, hang = stepped_demo, next(r for r in SCENARIO if r.ref == "bert-distill").pause
    simulator, clock = demo.simulator, demo.simulator.clock
    clock.t = hang[0] - 1
    assert simulator.wait_reported(clock.t, timeout=WAIT)  # its last report before the hang
    # A push sent at the last moment may reach the bot after the clock moved, stamped with the
    # new time: once a whole round has passed in the hang, the run's last sign of life is older.
    clock.t = quiet = hang[0] + 10
    assert simulator.wait_reported(quiet, timeout=WAIT)
    clock.t = quiet + demo.services.settings.stall_minutes * 60 + 1
    assert clock.t < hang[1]  # the scenario's hang outlasts the stall time
    stalled = channel_message(demo, "bert-distill", "stalled")
    clock.t = hang[1]  # the script reports again
    recovered = channel_message(demo, "bert-distill", "moving again")
    assert float(recovered["ts"]) > float(stalled["ts"])


def test_review_warns_not_ready_with_a_postpone_button(demo):
    channel_message(demo, "scheduled review", "Demo results review")
    warning = channel_message(demo, "Not ready: Demo results review")
    assert "Postpone to ETA" in button_labels(warning)


def test_standup_and_digest_are_set_up_from_the_start(demo):
    channel_message(demo, "Standup")
    channel_message(demo, "Run digest")
    setup = [e.get("text") or "" for e in demo.fake.ephemerals("C2")]
    assert any("Digest set for" in t for t in setup) and any("Standup set for" in t for t in setup)


def test_runs_came_through_the_push_api_and_say_they_are_the_demo(demo):
    channel_message(demo, "failed")
    with demo.services.store.tx() as s:
        conn = s.scalar(select(Connection).where(Connection.name == "demo"))
        assert conn.kind == "push" and conn.push_token_hash  # made by `/ready connect push as demo`
    assert "(demo)" in channel_message(demo, "vit-lr3e-3", "failed")["text"]  # the runs' experiment
    page = requests.get(demo.sandbox_url + "sandbox/state", params={"user": "U1", "channel": "C2"}, timeout=5)
    assert "simulated" in page.json()["banner"]
    assert "four simulated training runs" in instructions(demo)


def test_each_demo_start_gets_a_fresh_database_it_names(tmp_path):
    first, second = fresh_database(tmp_path), fresh_database(tmp_path)
    assert first != second and not Path(first.removeprefix("sqlite:///")).exists()


def test_mlflow_and_no_sim_are_alternatives():
    args = build_parser().parse_args(["demo", "--mlflow", "http://127.0.0.1:5000", "--experiment", "exp"])
    assert (args.mlflow, args.experiment, args.no_sim) == ("http://127.0.0.1:5000", "exp", False)
    assert build_parser().parse_args(["demo", "--no-sim"]).no_sim
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--no-sim", "--mlflow", "http://127.0.0.1:5000"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--speed", "0"])


def test_demo_watches_a_real_mlflow_experiment(quiet_demo, mlflow_server, mlflow_logger):
    mlflow_logger.create_experiment("demo-watch")
    watch_mlflow(quiet_demo, mlflow_server, "demo-watch")
    quiet_demo.fake.wait_for(lambda: any("Now tracking" in (e.get("text") or "")
                                         for e in quiet_demo.fake.ephemerals("C2")), timeout=WAIT)
    with quiet_demo.services.store.tx() as s:
        assert s.scalar(select(Connection).where(Connection.name == "mlflow")).kind == "mlflow"
    assert "demo-watch" in quiet_demo.page.banner
    assert quiet_demo.simulator is None and "MLflow experiment" in instructions(quiet_demo)


def test_unreachable_mlflow_is_a_clear_error(quiet_demo):
    with pytest.raises(ConfigError, match="cannot watch MLflow at http://127.0.0.1:9: .*Could not reach"):
        watch_mlflow(quiet_demo, "http://127.0.0.1:9", "x")
