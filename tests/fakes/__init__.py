"""Real local HTTP servers that stand in for external APIs in tests.

`FakeServer` is the shared part: a stdlib ThreadingHTTPServer on 127.0.0.1 and a random port,
served from a daemon thread, that records every request and can be told to fail the next
ones (429 with Retry-After, 500, a crafted body). Each fake subclasses it with the API it mimics.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # parsed JSON, or None


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """Subclasses implement `handle(request) -> Reply`."""

    prefix = "/"  # the path the API lives under; `url` points there

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._faults: list[Reply] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval, and tests stop servers often.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    # faults and inspection

    def fail_next(
        self, status: int, *, times: int = 1, headers: Mapping[str, str] | None = None, body: Any = None
    ) -> None:
        """Answer the next `times` requests with this reply instead of the real one."""
        with self._lock:
            self._faults.extend(Reply(status, body, dict(headers or {})) for _ in range(times))

    def rate_limit_next(self, retry_after: float, *, times: int = 1) -> None:
        self.fail_next(
            429, times=times, headers={"Retry-After": str(retry_after)}, body={"error": "rate limited"}
        )

    def count(self, path: str | None = None) -> int:
        """Requests received, optionally only those to `path` (relative to `prefix`)."""
        if path is None:
            return len(self.requests)
        return sum(1 for r in self.requests if r.path == self.prefix + path.lstrip("/"))

    def handle(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def _dispatch(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            return fault
        try:
            return self.handle(request)
        except Exception as exc:  # a bug in the fake should read as a 500, not a hung test
            return Reply(500, {"error": f"fake server bug: {type(exc).__name__}: {exc}"})


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs and requests.Session use

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}  # OAuth token requests
            recorded = Recorded(method, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
            reply = server._dispatch(recorded)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
