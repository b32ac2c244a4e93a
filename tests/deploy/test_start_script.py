"""The image's own install and start, run outside a container: deploy/install.sh builds a fresh
virtualenv from exactly the files the Dockerfile copies, deploy/start.sh starts `readybot serve`
from it, and the Dockerfile's HEALTHCHECK command sees /healthz answer. Images cannot be built on
CI's machines (no registry serves base images), so this is how CI knows the image would start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.deploy.dockerfile import (
    copy_build_context,
    entrypoint_command,
    exec_form,
    healthcheck_command,
    instructions,
    last,
    start_command,
)
from tests.mlflow_server import free_port

INSTALL_SECONDS = 600  # a cold pip cache downloads every dependency


def base_env(tmp: Path) -> dict[str, str]:
    """The machine's environment without this test run's virtualenv or source tree on any path:
    the fresh install must stand on its own. pip's own settings (indexes, caches) stay."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith(("READYBOT_", "SLACK_"))}
    test_venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != test_venv_bin)
    env["MPLCONFIGDIR"] = str(tmp / "mpl")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    """(the copied build context, the virtualenv install.sh made in it), as the image's RUN does."""
    tmp = tmp_path_factory.mktemp("image")
    src, venv = tmp / "src", tmp / "venv"
    copy_build_context(src)
    started = time.monotonic()
    done = subprocess.run(["sh", "deploy/install.sh"], cwd=src, env={**base_env(tmp), "READYBOT_VENV": str(venv)},
                          capture_output=True, text=True, timeout=INSTALL_SECONDS)
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"deploy/install.sh: {time.monotonic() - started:.0f} s")
    yield src, venv


def test_the_dockerfile_installs_and_starts_through_the_scripts():
    runs = [i.args for i in instructions() if i.keyword == "RUN"]
    assert any("deploy/install.sh" in run for run in runs)
    entrypoint = exec_form(last("ENTRYPOINT"))
    assert entrypoint[-1].endswith("/deploy/start.sh")
    assert exec_form(last("HEALTHCHECK").partition("CMD ")[2])[-2:] == [entrypoint[-1], "healthcheck"]
    assert last("USER").split(":")[0] not in ("root", "0")


def test_the_install_is_light_and_stands_without_the_source_tree(installed):
    _src, venv = installed
    probe = ("import importlib.util, bot; print(bot.__file__); "
             "print(importlib.util.find_spec('tensorboard') is None)")
    where, light = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                                  check=True, cwd="/").stdout.split()
    assert Path(where).is_relative_to(venv)  # a regular install, not a link to the source
    assert light == "True"  # the TensorBoard reader is an extra, not in the base install


@pytest.fixture
def started(installed, tmp_path, fake_slack) -> Iterator[tuple[subprocess.Popen, dict[str, str], Path]]:
    src, venv = installed
    port = free_port()
    env = {
        **base_env(tmp_path),
        "READYBOT_VENV": str(venv),
        "READYBOT_PORT": str(port),
        "READYBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'readybot.db'}",
        "READYBOT_SECRET_KEY": "deploy-test-key",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }
    log_path = tmp_path / "start.log"
    with open(log_path, "w") as log:
        # The container's own command line (ENTRYPOINT + CMD), run directly as Docker would.
        proc = subprocess.Popen(start_command(src), cwd=tmp_path, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc, env, log_path
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def healthcheck(src: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(healthcheck_command(src), env=env,
                          capture_output=True, text=True, timeout=30)


def test_start_script_serves_healthz_until_sigterm(installed, started):
    src, _venv = installed
    proc, env, log_path = started
    deadline = time.monotonic() + 60
    began = time.monotonic()
    # Waiting for the process to listen, not for time to pass: short polls, bounded in all.
    while (check := healthcheck(src, env)).returncode != 0:
        assert proc.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "no /healthz within 60 s:\n" + log_path.read_text()
        time.sleep(0.2)
    print(f"deploy/start.sh: /healthz answered after {time.monotonic() - began:.1f} s")
    assert check.returncode == 0
    health = requests.get(f"http://127.0.0.1:{env['READYBOT_PORT']}/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"ok": True}
    # Migrations ran on start: the SQLite file holds the schema.
    assert (Path(env["READYBOT_DATABASE_URL"].removeprefix("sqlite:///"))).stat().st_size > 0

    proc.send_signal(signal.SIGTERM)  # docker stop / a rolling update; start.sh exec'd readybot
    assert proc.wait(timeout=30) == 0, log_path.read_text()
    assert "Traceback" not in log_path.read_text()
    after = healthcheck(src, env)
    assert after.returncode != 0 and "/healthz" in after.stderr  # the HEALTHCHECK notices it is gone


def test_start_script_passes_readybot_its_command(installed, tmp_path):
    src, venv = installed
    env = {**base_env(tmp_path), "READYBOT_VENV": str(venv),
           "READYBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'readybot.db'}"}
    entrypoint = entrypoint_command(src)
    done = subprocess.run([*entrypoint, "db", "upgrade"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
    refused = subprocess.run(entrypoint, cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "READYBOT_SECRET_KEY" in refused.stderr
