"""`readybot serve` as a real process, configured only through the environment, the way a
deployment (or Slack and an MLflow server) meets it: signed requests in, Web API calls out,
a real scheduler polling a real MLflow server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from bot.sandbox import FakeSlack, SlackSender
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.mlflow_server import free_port

pytestmark = pytest.mark.mlflow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path, fake_slack: FakeSlack):
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "READYBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "READYBOT_PORT": str(port),
        "READYBOT_POLL_SECONDS": "1",
        "READYBOT_SECRET_KEY": "serve-test-key",
        # The repo itself, so this works from a checkout as well as from an install.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # waiting for the process to listen, not for time to pass
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                break
        except requests.ConnectionError:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("readybot serve did not start:\n" + (tmp_path / "serve.log").read_text())
    try:
        yield SlackSender(url + "/slack/events", SIGNING_SECRET, fake_slack), url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


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


def _say(sender: SlackSender, fake: FakeSlack, text: str) -> str:
    before = len(fake.responses())
    resp = sender.command(text)
    if resp.text.strip():
        return resp.json()["text"]
    fake.wait_for(lambda: len(fake.responses()) > before)
    return fake.responses()[-1]["text"]


def _finished(fake: FakeSlack) -> list[dict]:
    return [m for m in fake.messages("C1") if "finished" in (m.get("text") or "")]
