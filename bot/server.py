"""Serve mode: the WSGI app under waitress plus the scheduler, in one process.

waitress is a production WSGI server that is multi-threaded in a single process, so the
in-process scheduler runs once (gunicorn workers would each start one).
"""

from __future__ import annotations

import logging
import signal
import threading

from waitress.server import create_server

from bot.app import build_app
from bot.jobs.lease import release_all
from bot.jobs.scheduler import build_scheduler
from bot.services import Services
from bot.web import WebApp

log = logging.getLogger(__name__)


class Server:
    """A running bot: HTTP on a thread, scheduler in the background. Used by serve, demo and tests."""

    def __init__(self, services: Services, port: int, host: str = "0.0.0.0", scheduler: bool = True):
        self.services = services
        self.web = WebApp(build_app(services), services)
        self.http = create_server(self.web, host=host, port=port, threads=8, ident="readybot")
        self.port = self.http.effective_port
        self.scheduler = build_scheduler(services) if scheduler else None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        if self.scheduler:
            self.scheduler.start()
        self._thread = threading.Thread(target=self.run, name="readybot-http", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        """waitress's own run(), one short poll at a time, so stop() can end it before the
        sockets close (closing them under a running select() fails with EBADF)."""
        http = self.http
        while not self._stopping.is_set():
            http.asyncore.loop(timeout=0.2, map=http._map, use_poll=http.adj.asyncore_use_poll, count=1)

    def stop(self) -> None:
        if self.scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            # Every lease this process took (calendar sync, any leased job): the next replica
            # takes over on its next tick, not after the TTL.
            release_all(self.services.store)
        self._stopping.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        # Let in-flight requests finish before closing the sockets they answer on.
        self.http.task_dispatcher.shutdown(timeout=5)
        self.http.close()


def serve(services: Services, port: int) -> None:
    server = Server(services, port)
    if server.scheduler:
        server.scheduler.start()
    # SIGTERM (docker stop, Kubernetes) ends the loop like Ctrl-C does, so shutdown is clean.
    signal.signal(signal.SIGTERM, lambda *_: server._stopping.set())
    log.info("readybot listening on port %s (POST /slack/events)", server.port)
    try:
        server.run()
    finally:
        server.stop()
