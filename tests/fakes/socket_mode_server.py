# A fake Slack Socket Mode WebSocket endpoint, following
# https://api.slack.com/apis/connections/socket:
# - the app gets a wss:// URL from apps.connections.open (FakeSlack answers `url` below) and opens
#   a WebSocket to it; Slack first sends {"type": "hello", "num_connections", "debug_info",
#   "connection_info": {"app_id"}};
# - then envelopes {"envelope_id", "type": "slash_commands" | "interactive" | "events_api",
#   "payload": {...}, "accepts_response_payload": bool};
# - the app acknowledges each with {"envelope_id", "payload": {...}} (payload optional), where the
#   payload is what an HTTP request would have been answered with (e.g. a slash command's message).
# Unverified, chosen here: the ticket in the URL is not checked, and there is no "disconnect"
# warning or refresh; ping/pong is left to the WebSocket library.
# The WebSocket side is the `websockets` library's threaded (sync) server.
"""Fake Slack Socket Mode server for end-to-end tests of `readybot socket`."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

APP_ID = "A0SANDBOX"


class FakeSocketModeServer:
    """`with FakeSocketModeServer() as ws:` serves on 127.0.0.1 and a random port."""

    def __init__(self, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, dict] = {}
        self.received: list[Any] = []  # every message the app sent, parsed
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeSocketModeServer:
        self._server = serve(self._serve, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # closes open connections too
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeSocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSocketModeServer is not started")
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket={uuid.uuid4()}&app_id={self.app_id}"

    # what tests do

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self._connections) >= count, timeout)

    def wait_disconnected(self, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._connections, timeout)

    def deliver(self, type_: str, payload: dict, accepts_response_payload: bool = True) -> str:
        """Send an envelope on the newest connection; returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": type_, "payload": payload,
                    "accepts_response_payload": accepts_response_payload}
        with self._lock:
            if not self._connections:
                raise RuntimeError("no Socket Mode connection is open")
            connection = self._connections[-1]
        connection.send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict:
        """The app's acknowledgement {"envelope_id", "payload"?} of one envelope."""
        with self._changed:
            if not self._changed.wait_for(lambda: envelope_id in self._acks, timeout):
                raise TimeoutError(f"no ack for envelope {envelope_id} within {timeout}s")
            return self._acks[envelope_id]

    # the connection, on the server's threads

    def _serve(self, connection: ServerConnection) -> None:
        with self._changed:
            self._connections.append(connection)
            count = len(self._connections)
            self._changed.notify_all()
        try:
            connection.send(json.dumps({
                "type": "hello", "num_connections": count,
                "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }))
            for message in connection:
                parsed = json.loads(message)
                with self._changed:
                    self.received.append(parsed)
                    if isinstance(parsed, dict) and parsed.get("envelope_id"):
                        self._acks[parsed["envelope_id"]] = parsed
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._connections.remove(connection)
                self._changed.notify_all()
