"""TrackerHttp refuses addresses before connecting, and checks every redirect (issue 12, item 11).

Only loopback is ever contacted: `loopback_only` makes any other connect fail loudly and records
it, so even a broken check cannot send traffic off this machine.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from integrations.base import ConnectionInfo, TrackerError
from integrations.http import TrackerHttp
from integrations.mlflow import MlflowTracker
from integrations.outbound import OutboundPolicy
from tests.loopback_guard import loopback_only as guard
from tests.tls import self_signed

MULTI = OutboundPolicy.for_install(multi_workspace=True)


@pytest.fixture
def loopback_only(monkeypatch) -> list:
    return guard(monkeypatch)


class Redirector:
    """Answers /to?url=X with a 302 to X, and anything else with {"ok": true}; over TLS when
    given a certificate. Records the Host headers and the TLS server names (SNI) it was sent."""

    def __init__(self, cert: tuple[Path, Path] | None = None) -> None:
        self.hosts: list[str] = []
        self.server_names: list[str | None] = []
        hosts = self.hosts

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                hosts.append(self.headers["Host"])
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
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
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


class Rebinding:
    """A name whose first lookup answers 127.0.0.1 and every later one the metadata address: what
    a hostile DNS server with a zero TTL does between the bot's check and its connect."""

    def __init__(self, name: str) -> None:
        self.name, self.lookups, self.real = name, 0, socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN204
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        address = "127.0.0.1" if self.lookups == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


@pytest.mark.parametrize("first_hop", ["name", "redirect"])
def test_a_name_rebound_after_the_check_is_not_connected_to(redirector, loopback_only, monkeypatch, first_hop):
    rebinding = Rebinding("rebound.test")
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)  # the lookup urllib3 would make to connect
    target = f"http://rebound.test:{redirector.port}/fine"
    http = TrackerHttp(target if first_hop == "name" else redirector.url, resolve=rebinding, sleep=lambda s: None)
    try:
        answer = http.get("" if first_hop == "name" else to(target))
    except TrackerError as exc:
        answer = str(exc)
    # Either the second lookup is refused or the connection goes to the address that was checked.
    assert answer == {"ok": True} or "refused to contact rebound.test: 169.254.169.254" in answer
    assert loopback_only == []  # never a connect to the address the name answered after the check


@pytest.fixture
def tls_tracker(tmp_path) -> Iterator[tuple[Redirector, Path]]:
    cert = self_signed(tmp_path, "tracker.test")
    server = Redirector(cert)
    yield server, cert[0]
    server.server.shutdown()
    server.server.server_close()


def trusting(ca: Path) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override session.verify
    session.verify = str(ca)
    return session


def resolves_to_loopback(host, port, **kwargs):  # noqa: ANN001, ANN003, ANN201
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def test_https_to_the_checked_address_still_verifies_the_name(tls_tracker, loopback_only, monkeypatch, tmp_path):
    server, ca = tls_tracker

    real = socket.getaddrinfo

    def no_second_lookup(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        assert host != "tracker.test", "the name was looked up again to connect"
        return real(host, *args, **kwargs)  # an address literal, read without asking DNS

    monkeypatch.setattr(socket, "getaddrinfo", no_second_lookup)
    url = f"https://tracker.test:{server.port}/"
    trusted = TrackerHttp(url, session=trusting(ca), resolve=resolves_to_loopback)
    assert trusted.get("fine") == {"ok": True}
    assert server.server_names == ["tracker.test"] and server.hosts == [f"tracker.test:{server.port}"]
    other_ca = self_signed(tmp_path, "other.test")[0]  # did not sign tracker.test's certificate
    with pytest.raises(TrackerError, match="SSLError"):
        TrackerHttp(url, session=trusting(other_ca), resolve=resolves_to_loopback, retries=0).get("fine")
    assert loopback_only == []


def test_a_name_with_several_addresses_falls_back_to_the_next_checked_one(redirector, loopback_only):
    def two_addresses(host, port, **kwargs):  # noqa: ANN001, ANN003, ANN202
        # Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1): that connect is refused.
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ("127.0.0.2", "127.0.0.1")]

    http = TrackerHttp(f"http://tracker.test:{redirector.port}/", resolve=two_addresses, retries=0)
    assert http.get("fine") == {"ok": True}
    assert loopback_only == [] and redirector.hosts == [f"tracker.test:{redirector.port}"]
