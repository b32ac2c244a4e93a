"""Serve mode, in one of three roles (`readybot serve --role ...`):

  all     the WSGI app under waitress plus the scheduler, in one process (the default, and the demo)
  web     HTTP only (Slack, push API, calendar feeds, /healthz, /metrics) from gunicorn's worker
          processes, READYBOT_WEB_WORKERS of them: the web tier scales with cores
  worker  the scheduler (polls, reviews, standups, digests) and the dispatcher, with an HTTP
          port that answers only /healthz and /metrics

The scheduler never runs inside gunicorn's workers: each would start one. Replicas of either
role share the database safely (docs/architecture.md, "How replicas coordinate"), so a web
process holds no scheduler state and Slack's 3-second ack never waits on a poll.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from waitress.server import create_server

from bot.app import build_app
from bot.config import Settings
from bot.jobs.scheduler import build_scheduler, stop_scheduler
from bot.listeners.pool import ListenerPool
from bot.services import Services
from bot.web import HealthApp, WebApp

log = logging.getLogger(__name__)


class Server:
    """A running bot: HTTP on a thread, scheduler in the background. Used by serve, demo and tests.
    slack=False is the worker role's HTTP: health and metrics only."""

    def __init__(self, services: Services, port: int, host: str = "0.0.0.0", scheduler: bool = True,
                 slack: bool = True):
        self.services = services
        self.listeners = ListenerPool()
        self.web = WebApp(build_app(services, self.listeners), services) if slack else HealthApp(services)
        self.http = create_server(self.web, host=host, port=port, threads=8 if slack else 2, ident="readybot")
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
        if self.scheduler:
            stop_scheduler(self.services, self.scheduler)
        self._stopping.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        # Let in-flight requests finish before closing the sockets they answer on.
        self.http.task_dispatcher.shutdown(timeout=5)
        # A click acked just now may still be doing what it was asked: let it finish.
        self.listeners.wait_idle(timeout=5)
        self.listeners.shutdown(wait=False)
        self.http.close()


def serve(services: Services, port: int, role: str = "all") -> None:
    """The all and worker roles: this process, until SIGTERM or Ctrl-C."""
    server = Server(services, port, slack=role == "all")
    if server.scheduler:
        server.scheduler.start()
    # SIGTERM (docker stop, Kubernetes) ends the loop like Ctrl-C does, so shutdown is clean.
    signal.signal(signal.SIGTERM, lambda *_: server._stopping.set())
    if role == "worker":
        log.info("readybot worker: scheduler and dispatcher running, /healthz and /metrics on port %s", server.port)
    else:
        log.info("readybot listening on port %s (POST /slack/events)", server.port)
    try:
        server.run()
    finally:
        server.stop()


def serve_web(settings: Settings, port: int) -> None:
    """The web role: gunicorn's master forks settings.web_workers processes, each building its
    own Services (database pool, Slack clients) after the fork, so no connection is shared
    across processes. The caller has run the migrations already."""
    from gunicorn.app.base import BaseApplication

    class WebWorkers(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings, port).items():
                self.cfg.set(key, value)

        def load(self) -> WebApp:  # in each worker process, after the fork
            from bot.services import build_services

            services = build_services(settings)
            return WebApp(build_app(services), services)

    log.info("readybot web: %s worker processes on port %s (POST /slack/events)", settings.web_workers, port)
    WebWorkers().run()


def gunicorn_options(settings: Settings, port: int) -> dict[str, Any]:
    """gunicorn settings (https://docs.gunicorn.org/en/stable/settings.html). Threaded workers:
    a slow client or a push request waiting on the database holds one thread, not a process."""
    return {
        "bind": f"0.0.0.0:{port}",
        "workers": settings.web_workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 30,
        "graceful_timeout": 25,  # inside Kubernetes' and compose's 30-second stop grace
        "keepalive": 5,
        "proc_name": "readybot-web",
        "loglevel": settings.log_level.lower(),
        "errorlog": "-",
        "accesslog": None,
        "preload_app": False,  # Services are built in each worker, never shared across a fork
        # No runtime control socket: it lives under $HOME, which is read-only in our containers,
        # and two web processes on one host would fight over the same path.
        "control_socket_disable": True,
    }
