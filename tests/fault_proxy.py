"""A proxy in front of the real `mlflow server` (tests/mlflow_server.py) that replaces chosen answers.

`fault(path, upstream_body)` decides per request: None forwards the real answer, a dict or list
answers it as `200` JSON, and a `Canned` answers anything else (a status, headers, raw bytes, or
a hang held until the fault is cleared or the proxy closes, never a timed sleep).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


@dataclass(frozen=True)
class Canned:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # hold the request until released: the tracker's own timeout ends it


# (path, upstream body or None) -> the answer to give instead, or None to forward unchanged.
Fault = Callable[[str, dict | None], "dict | list | str | Canned | None"]


class FaultProxy:
    """Forwards to the MLflow server; `fault` may replace any answer while it is set."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self._fault: Fault | None = None
        self.released = threading.Event()
        self.paths: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._relay()

            def do_POST(self) -> None:  # noqa: N802
                self._relay()

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                proxy.paths.append(path)
                resp = requests.request(self.command, proxy.upstream + self.path, data=body or None,
                                        headers={"Content-Type": "application/json"}, timeout=10)
                fault = proxy._fault
                replaced = fault(path, resp.json() if resp.ok else None) if fault is not None else None
                if isinstance(replaced, Canned):
                    if replaced.hang:
                        proxy.released.wait(30)  # bounded even if nobody releases it
                        return
                    self._answer(replaced.status, replaced.body, replaced.headers)
                elif replaced is not None:
                    self._answer(200, json.dumps(replaced).encode(), {})
                else:
                    self._answer(resp.status_code, resp.content, {})

            def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def fault(self) -> Fault | None:
        return self._fault

    @fault.setter
    def fault(self, fault: Fault | None) -> None:
        self._fault = fault
        if fault is None:
            self.released.set()  # hung requests end now
        else:
            self.released.clear()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
