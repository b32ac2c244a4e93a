"""`readybot serve` as a real process, configured only through the environment, the way a
deployment (or Slack and an MLflow server) meets it: signed requests in, Web API calls out,
a real scheduler polling a real MLflow server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from bot.sandbox import FakeSlack, SlackSender
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.mlflow_server import free_port

pytestmark = pytest.mark.mlflow
REPO = Path(__file__).resolve().parents[2]


def serve_env(fake_slack: FakeSlack, db_path: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "READYBOT_DATABASE_URL": f"sqlite:///{db_path}",
        "READYBOT_PORT": str(port),
        "READYBOT_POLL_SECONDS": "1",
        "READYBOT_SECRET_KEY": "serve-test-key",
        # The repo itself, so this works from a checkout as well as from an install.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **extra,
    }


@contextmanager
def readybot(tmp_path: Path, env: dict[str, str], *args: str, name: str = "serve") -> Iterator[str]:
    """`readybot serve ARGS` as a process, from the moment its /healthz answers; its URL."""
    log_path = tmp_path / f"{name}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", *args], env=env, cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['READYBOT_PORT']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # waiting for the process to listen, not for time to pass
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                break
        except requests.ConnectionError:
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"readybot serve {' '.join(args)} did not start:\n" + log_path.read_text())
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def served(tmp_path, fake_slack: FakeSlack):
    env = serve_env(fake_slack, tmp_path / "serve.db", free_port())
    with readybot(tmp_path, env) as url:
        yield SlackSender(url + "/slack/events", SIGNING_SECRET, fake_slack), url


def test_serve_answers_slack_and_announces_a_finished_run(served, fake_slack, mlflow_logger, mlflow_server):
    sender, url = served
    help_reply = sender.command("help")
    assert help_reply.status_code == 200 and "/ready track" in help_reply.json()["text"]
    assert sender.command("help", secret="wrong").status_code == 401
    assert requests.get(url + "/metrics", timeout=5).status_code == 200

    now_ms = int(time.time() * 1000)
    exp = mlflow_logger.create_experiment(f"serve-{uuid.uuid4().hex[:8]}")
    run_id = mlflow_logger.create_run(exp, start_ms=now_ms, name="served-run")
    mlflow_logger.log_metrics(run_id, [("val_acc", 0.5, 1, now_ms)])
    assert "Connected" in _say(sender, fake_slack, f"connect mlflow {mlflow_server}")
    assert "Now tracking" in _say(sender, fake_slack, f"track mlflow:{run_id}")

    mlflow_logger.log_metrics(run_id, [("val_acc", 0.97, 2, now_ms + 1000)])
    mlflow_logger.end_run(run_id, "FINISHED", now_ms + 2000)
    assert fake_slack.wait_for(lambda: _finished(fake_slack), timeout=30), fake_slack.messages("C1")
    assert "0.97" in str(_finished(fake_slack)[0]["blocks"])


def test_web_and_worker_roles_share_the_work_of_one_serve(tmp_path, fake_slack, mlflow_logger, mlflow_server):
    """`--role web` answers Slack from two gunicorn worker processes and schedules nothing;
    `--role worker` polls and posts and answers only its health check: together, one bot."""
    db = tmp_path / "roles.db"
    web_env = serve_env(fake_slack, db, free_port(), READYBOT_WEB_WORKERS="2")
    with readybot(tmp_path, web_env, "--role", "web", name="web") as web_url:
        sender = SlackSender(web_url + "/slack/events", SIGNING_SECRET, fake_slack)
        now_ms = int(time.time() * 1000)
        exp = mlflow_logger.create_experiment(f"roles-{uuid.uuid4().hex[:8]}")
        run_id = mlflow_logger.create_run(exp, start_ms=now_ms, name="split-run")
        assert "Connected" in _say(sender, fake_slack, f"connect mlflow {mlflow_server}")
        assert "Now tracking" in _say(sender, fake_slack, f"track mlflow:{run_id}")
        for _ in range(4):  # every request answered, whichever worker process takes it
            assert "split-run" in _say(sender, fake_slack, "runs")
        mlflow_logger.end_run(run_id, "FINISHED", now_ms + 2000)
        assert _polls(db) == 0  # the web role schedules nothing
        worker_env = serve_env(fake_slack, db, free_port())
        with readybot(tmp_path, worker_env, "--role", "worker", name="worker") as worker_url:
            assert fake_slack.wait_for(lambda: _finished(fake_slack), timeout=30), fake_slack.messages("C1")
            assert requests.post(worker_url + "/slack/events", timeout=5).status_code == 404
            assert requests.get(worker_url + "/metrics", timeout=5).status_code == 200
    assert len(_finished(fake_slack)) == 1
    assert "gunicorn" in (tmp_path / "web.log").read_text()


def _say(sender: SlackSender, fake: FakeSlack, text: str) -> str:
    before = len(fake.responses())
    resp = sender.command(text)
    if resp.text.strip():
        return resp.json()["text"]
    fake.wait_for(lambda: len(fake.responses()) > before)
    return fake.responses()[-1]["text"]


def _polls(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM connection_polls WHERE polled_at IS NOT NULL").fetchone()[0]


def _finished(fake: FakeSlack) -> list[dict]:
    return [m for m in fake.messages("C1") if "finished" in (m.get("text") or "")]
