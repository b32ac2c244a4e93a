"""TrackerHttp's JSON decode: a body no tracker would send is a MalformedAnswer of that
connection, never a RecursionError out of the poll (issue 12, item 2)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.base import MalformedAnswer
from integrations.http import TrackerHttp

BODIES = {
    "/deep": b"[" * 100_000 + b"]" * 100_000,
    "/truncated": b'{"runs": [{"info": ',
    "/digits": b'{"step": ' + b"9" * 5000 + b"}",  # beyond Python's int-from-text limit
}


@pytest.fixture
def server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = BODIES[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path", list(BODIES))
def test_bodies_no_tracker_sends_are_malformed_answers(server, path):
    with pytest.raises(MalformedAnswer) as caught:
        TrackerHttp(server, sleep=lambda s: None).get(path)
    assert not caught.value.permanent and "tracker answered HTTP 200" in str(caught.value)
