"""TrackerHttp refuses addresses before connecting, and checks every redirect (issue 12, item 11).

Only loopback is ever contacted: `loopback_only` makes any other connect fail loudly and records
it, so even a broken check cannot send traffic off this machine.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from integrations.base import ConnectionInfo, TrackerError
from integrations.http import TrackerHttp
from integrations.mlflow import MlflowTracker
from integrations.outbound import OutboundPolicy
from tests.loopback_guard import loopback_only as guard

MULTI = OutboundPolicy.for_install(multi_workspace=True)


@pytest.fixture
def loopback_only(monkeypatch) -> list:
    return guard(monkeypatch)


class Redirector:
    """Answers /to?url=X with a 302 to X, and anything else with {"ok": true}."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/to?url="):
                    self.send_response(302)
                    self.send_header("Location", requests.utils.unquote(self.path.removeprefix("/to?url=")))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def redirector() -> Iterator[Redirector]:
    server = Redirector()
    yield server
    server.server.shutdown()
    server.server.server_close()


def to(target: str) -> str:
    return "to?url=" + requests.utils.quote(target, safe="")


class NoSend(requests.adapters.HTTPAdapter):
    sent = 0

    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        NoSend.sent += 1
        raise AssertionError("a refused address was contacted")


def test_a_refused_address_is_never_connected_to():
    session = requests.Session()
    session.mount("http://", NoSend())
    resolve = lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]  # noqa: E731
    http = TrackerHttp("http://tracker.example/", session=session, resolve=resolve, sleep=lambda s: None)
    with pytest.raises(TrackerError) as caught:
        http.get("api")
    assert caught.value.permanent and "refused" in str(caught.value)
    assert NoSend.sent == 0 and http.requests_made == 0


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://2852039166/",
                                    "http://0xa9fea9fe/", "http://[fd00:ec2::254]/"])
def test_a_redirect_to_a_metadata_address_is_not_followed(redirector, loopback_only, target):
    http = TrackerHttp(redirector.url, sleep=lambda s: None)
    with pytest.raises(TrackerError) as caught:
        http.get(to(target))
    assert "refused" in str(caught.value)
    assert loopback_only == []  # refused before connecting, not by the guard


def test_redirects_to_loopback_follow_the_install_mode(redirector, loopback_only):
    target = f"http://localhost:{redirector.port}/fine"
    assert TrackerHttp(redirector.url, sleep=lambda s: None).get(to(target)) == {"ok": True}
    allowed = OutboundPolicy.for_install(True, allow=["127.0.0.1/32"])
    only_first_hop = TrackerHttp(redirector.url, policy=allowed, sleep=lambda s: None)
    with pytest.raises(TrackerError, match="READYBOT_TRACKER_ALLOW"):
        only_first_hop.get(to(f"http://[::1]:{redirector.port}/fine"))  # ::1 is not admitted
    assert TrackerHttp(redirector.url, policy=allowed, sleep=lambda s: None).get(to(target)) == {"ok": True}
    assert loopback_only == []


@pytest.mark.mlflow
def test_a_multi_workspace_install_reaches_loopback_only_when_allowed(mlflow_server):
    refused = MlflowTracker(ConnectionInfo(kind="mlflow", name="m", url=mlflow_server, outbound=MULTI))
    with pytest.raises(TrackerError, match="READYBOT_TRACKER_ALLOW") as caught:
        refused.check()
    assert caught.value.permanent and refused.http.requests_made == 0
    allowed = OutboundPolicy.for_install(True, allow=["127.0.0.0/8"])
    MlflowTracker(ConnectionInfo(kind="mlflow", name="m", url=mlflow_server, outbound=allowed)).check()
