"""Safe production defaults: the modes that keep real tracker keys refuse the built-in demo key;
only `readybot demo` runs on it, and says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import main
from tests.mlflow_server import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_secret_key(monkeypatch, tmp_path):
    """Everything a production start needs except READYBOT_SECRET_KEY (and no .env to find one in)."""
    for name in ("READYBOT_SECRET_KEY", "READYBOT_SECRET_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("READYBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", ["serve", "socket", "poll"])
def test_production_modes_refuse_to_start_without_a_secret_key(no_secret_key, command):
    # A real process with a time limit: before this check, `serve` and `socket` would simply run.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", command], env=env, cwd=no_secret_key,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "READYBOT_SECRET_KEY is required" in done.stderr and f"readybot {command}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (no_secret_key / "prod.db").exists()  # stopped before touching the database


def test_a_secret_key_from_a_file_is_enough(no_secret_key, monkeypatch, capsys):
    key_file = no_secret_key / "secret_key"
    key_file.write_text("a-long-random-passphrase\n")
    monkeypatch.setenv("READYBOT_SECRET_KEY_FILE", str(key_file))
    monkeypatch.delenv("SLACK_SIGNING_SECRET")  # the next check stops it before it would serve
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_SIGNING_SECRET" in err and "READYBOT_SECRET_KEY" not in err


def test_demo_runs_on_its_built_in_key_and_says_so(no_secret_key):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log_path = no_secret_key / "demo.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "demo", "--port", str(free_port()), "--sandbox-port", str(free_port())],
            env=env, cwd=no_secret_key, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:  # waiting for output, not for time
                if "demo key" in log_path.read_text():
                    break
                time.sleep(0.1)
            output = log_path.read_text()
            assert proc.poll() is None, output  # it started rather than refusing
            assert "READYBOT_SECRET_KEY is not set" in output and "demo key" in output
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
