"""A real MLflow tracking server for tests, and a REST logger that sets timestamps exactly.

Fixtures (registered under the names in quotes): "mlflow_server", session-scoped, the base URL;
"mlflow_logger", an MlflowLogger for it. Wire them in from tests/conftest.py with
`from tests.mlflow_server import mlflow_logger_fixture, mlflow_server_fixture  # noqa: F401`
or, instead, `pytest_plugins = ["tests.mlflow_server"]` there (not both: two server fixtures).
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

START_DEADLINE = 90.0  # seconds; a cold start takes ~15 s, slow CI machines several times that
API = "api/2.0/mlflow/"


class MlflowServerError(RuntimeError):
    pass


@contextmanager
def running_mlflow_server(workdir: Path | None = None, deadline: float = START_DEADLINE) -> Iterator[str]:
    """Start `mlflow server` on a free port with a fresh SQLite store; yield its base URL."""
    with tempfile.TemporaryDirectory(prefix="mlflow-") as tmp:
        root = Path(workdir or tmp)
        log_path = root / "server.log"
        port = free_port()
        cmd = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--default-artifact-root", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1",  # tests and the benchmark are sequential; one worker starts faster
        ]  # fmt: skip
        env = {
            **os.environ,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            # The job runner (huey workers for GenAI scorers) is no part of the tracking API;
            # off, the server starts a little faster and stops in about a second, not ~9 s.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
        with open(log_path, "wb") as log:
            # Own process group: the server forks uvicorn workers, and all of them must go.
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_healthy(base_url, proc, log_path, deadline)
            yield base_url
        finally:
            _stop(proc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(base_url: str, proc: subprocess.Popen, log_path: Path, deadline: float) -> None:
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise MlflowServerError(f"mlflow server exited with {proc.returncode}:\n{_tail(log_path)}")
        try:
            if requests.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)  # polling a process that is starting up, not waiting for test time
    raise MlflowServerError(f"mlflow server not healthy after {deadline:.0f} s:\n{_tail(log_path)}")


def _stop(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session", name="mlflow_server")
def mlflow_server_fixture() -> Iterator[str]:
    """Base URL of a real MLflow server shared by the session. Fails (never skips) if it can't start."""
    try:
        with running_mlflow_server() as base_url:
            yield base_url
    except MlflowServerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(name="mlflow_logger")
def mlflow_logger_fixture(mlflow_server: str) -> MlflowLogger:
    return MlflowLogger(mlflow_server)


class MlflowLogger:
    """Creates experiments and runs and logs through the REST API, with explicit timestamps
    and steps, so tests decide every time the tracker will report."""

    METRICS_PER_BATCH = 1000  # log-batch limits: 1,000 metrics, 100 params, 100 tags
    PARAMS_PER_BATCH = 100

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        resp = self.session.post(f"{self.base_url}/{API}{path}", json=body, timeout=30)
        resp.raise_for_status()
        return resp.json() if resp.content else {}

    def create_experiment(self, name: str) -> str:
        return self.post("experiments/create", {"name": name})["experiment_id"]

    def create_run(
        self,
        experiment_id: str,
        *,
        start_ms: int,
        name: str | None = None,
        user: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        body: dict[str, Any] = {"experiment_id": experiment_id, "start_time": start_ms}
        if name:
            body["run_name"] = name
        if user:
            body["user_id"] = user
        if tags:
            body["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        run_id = self.post("runs/create", body)["run"]["info"]["run_id"]
        if params:
            self.log_params(run_id, params)
        return run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.log_batch(run_id, params=params)

    def log_metrics(self, run_id: str, points: Iterable[tuple[str, float, int, int]]) -> None:
        """points: (key, value, step, timestamp_ms)."""
        self.log_batch(run_id, metrics=points)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[tuple[str, float, int, int]] = (),
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Metrics (key, value, step, timestamp_ms) and params in as few log-batch calls as allowed."""
        metric_items = [
            {"key": key, "value": _json_float(value), "step": step, "timestamp": ts}
            for key, value, step, ts in metrics
        ]
        param_items = [{"key": k, "value": str(v)} for k, v in (params or {}).items()]
        while metric_items or param_items:
            body = {
                "run_id": run_id,
                "metrics": metric_items[: self.METRICS_PER_BATCH],
                "params": param_items[: self.PARAMS_PER_BATCH],
            }
            self.post("runs/log-batch", body)
            metric_items = metric_items[self.METRICS_PER_BATCH :]
            param_items = param_items[self.PARAMS_PER_BATCH :]

    def end_run(self, run_id: str, status: str, end_ms: int) -> None:
        self.post("runs/update", {"run_id": run_id, "status": status, "end_time": end_ms})

    def delete_run(self, run_id: str) -> None:
        self.post("runs/delete", {"run_id": run_id})


def _json_float(value: float) -> float | str:
    # Send non-finite values the way the mlflow client does (proto JSON strings). A bare NaN
    # literal is not JSON; measured on 3.17, the server then stores value 0.0 at step 0, time 0.
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
