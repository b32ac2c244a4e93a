"""Socket Mode with a watchdog: after idle reconnects a Socket Mode client can silently stop
receiving (bolt-python issue 1529), so the connection is checked every minute and re-opened."""

from __future__ import annotations

import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)
CHECK_SECONDS = 60


def run_socket_mode(app: App, app_token: str, stop: threading.Event | None = None) -> None:
    handler = SocketModeHandler(app, app_token)
    handler.connect()
    stop = stop or threading.Event()
    try:
        while not stop.wait(CHECK_SECONDS):
            if not handler.client.is_connected():
                log.warning("Socket Mode connection lost; reconnecting")
                handler.client.connect()
    finally:
        handler.close()
