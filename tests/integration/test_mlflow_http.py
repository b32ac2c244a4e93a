"""MlflowTracker against a tiny local stub for what a real open-source server never does:
5xx, 429 with Retry-After, auth headers, and a server without the bulk history endpoint.

Stub bodies follow https://mlflow.org/docs/latest/rest-api.html and the 404 page a real
3.17 server sends for an unknown path (HTML, not JSON).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.base import ConnectionInfo, TrackerError
from integrations.http import TrackerHttp
from integrations.mlflow import MlflowTracker

API = "/api/2.0/mlflow/"
RUN_A, RUN_B = "a" * 32, "b" * 32
NOT_FOUND_PAGE = b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>"


class Stub:
    """Scripted answers per path: each request pops the next one; the last one repeats."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.seen: list[dict] = []

    def on(self, path: str, *answers: tuple[int, dict[str, str], object]) -> None:
        self.script[API + path] = [
            (status, headers, body if isinstance(body, bytes) else json.dumps(body).encode())
            for status, headers, body in answers
        ]

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        answers = self.script.get(path, [(404, {"Content-Type": "text/html"}, NOT_FOUND_PAGE)])
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            state.seen.append(
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "auth": self.headers.get("Authorization"),
                    "body": json.loads(self.rfile.read(length)) if length else None,
                }
            )
            status, headers, body = state.answer(parts.path)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)  # quick shutdown
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def make_tracker(url: str, secret: str | None = None) -> tuple[MlflowTracker, list[float]]:
    sleeps: list[float] = []
    http = TrackerHttp(url, sleep=sleeps.append)
    return MlflowTracker(ConnectionInfo(kind="mlflow", name="m", url=url, secret=secret), http), sleeps


EXPERIMENTS = {"experiments": [{"experiment_id": "0", "name": "Default"}]}


def test_5xx_is_retried_with_backoff(stub):
    state, url = stub
    state.on("experiments/search", (503, {}, b""), (502, {}, b""), (200, {}, EXPERIMENTS))
    tracker, sleeps = make_tracker(url)

    tracker.check()

    assert tracker.http.requests_made == 3 and sleeps == [0.5, 1.0]


def test_5xx_that_persists_is_transient(stub):
    state, url = stub
    state.on("experiments/search", (500, {}, {"error_code": "INTERNAL_ERROR", "message": "db"}))
    tracker, _ = make_tracker(url)

    with pytest.raises(TrackerError) as err:
        tracker.fetch_runs([RUN_A])
    assert not err.value.permanent and err.value.status == 500


def test_429_honours_retry_after(stub):
    state, url = stub
    state.on("experiments/search", (429, {"Retry-After": "7"}, b""))
    tracker, sleeps = make_tracker(url)

    with pytest.raises(TrackerError) as err:
        tracker.check()
    assert sleeps == [7.0, 7.0, 7.0]
    assert err.value.retry_after == 7.0 and not err.value.permanent


@pytest.mark.parametrize(
    ("secret", "header"),
    [
        ("dapi123", "Bearer dapi123"),
        ("alice:pa:ss", "Basic " + base64.b64encode(b"alice:pa:ss").decode()),
        (None, None),
    ],
)
def test_auth_header(stub, secret, header):
    state, url = stub
    state.on("experiments/search", (200, {}, EXPERIMENTS))
    tracker, _ = make_tracker(url, secret)

    tracker.check()

    assert state.seen[0]["auth"] == header


def test_credentials_refused_is_permanent_without_the_secret(stub):
    state, url = stub
    state.on("experiments/search", (401, {}, {"error_code": "UNAUTHENTICATED", "message": "bad token"}))
    tracker, _ = make_tracker(url, "s3cret-token")

    with pytest.raises(TrackerError) as err:
        tracker.check()
    assert err.value.permanent and "s3cret" not in str(err.value)


def test_check_against_a_url_without_mlflow_is_permanent(stub):
    _, url = stub  # nothing scripted: every path is the HTML 404 page
    tracker, _ = make_tracker(url)

    with pytest.raises(TrackerError, match="no MLflow tracking API") as err:
        tracker.check()
    assert err.value.permanent


def test_runs_search_sends_experiment_ids_and_id_filter(stub):
    state, url = stub
    state.on("experiments/search", (200, {}, EXPERIMENTS))
    state.on("runs/search", (200, {}, {}))  # an empty result is `{}`, without "runs"
    tracker, _ = make_tracker(url)

    assert tracker.fetch_runs([RUN_A, RUN_B]) == {}

    body = state.seen[1]["body"]
    assert body["experiment_ids"] == ["0"]
    assert body["filter"] == f"attributes.run_id IN ('{RUN_A}','{RUN_B}')"


def history_point(step: int, value: float, ts: int) -> dict:
    return {"key": "loss", "value": value, "timestamp": ts, "step": step}


def test_history_falls_back_to_per_run_when_bulk_endpoint_is_missing(stub):
    state, url = stub
    # No script for get-history-bulk-interval: the stub answers 404 HTML, as old servers do.
    state.on(
        "metrics/get-history",
        (
            200,
            {},
            {"metrics": [history_point(2, 0.5, 20), history_point(1, 0.9, 10)], "next_page_token": "t"},
        ),
        (200, {}, {"metrics": [history_point(2, 0.4, 30)]}),
        (200, {}, {}),
    )
    tracker, _ = make_tracker(url)

    history = tracker.metric_history([RUN_A, RUN_B], "loss", start_step=2)

    assert [(p.step, p.value) for p in history[RUN_A]] == [(2, 0.4)]
    assert history[RUN_B] == []
    paths = [seen["path"].removeprefix(API) for seen in state.seen]
    assert paths == ["metrics/get-history-bulk-interval"] + ["metrics/get-history"] * 3
    assert state.seen[2]["query"]["page_token"] == ["t"]

    state.seen.clear()
    tracker.metric_history([RUN_A], "loss")
    assert [seen["path"].removeprefix(API) for seen in state.seen] == ["metrics/get-history"]


def test_bulk_history_query(stub):
    state, url = stub
    state.on("metrics/get-history-bulk-interval", (200, {}, {}))
    tracker, _ = make_tracker(url)

    tracker.metric_history([RUN_A, RUN_B], "loss", start_step=10)

    query = state.seen[0]["query"]
    assert query["run_ids"] == [RUN_A, RUN_B] and query["metric_key"] == ["loss"]
    # The server wants end_step whenever start_step is given.
    assert query["start_step"] == ["10"] and query["end_step"] == [str(2**63 - 1)]
    assert query["max_results"] == ["2500"]
