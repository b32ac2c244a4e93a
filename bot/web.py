"""The HTTP surface of `readybot serve`: one small WSGI router in front of Bolt.

  POST /slack/events              Bolt (commands, events, interactivity)
  GET  /slack/install, /slack/oauth_redirect   Bolt's OAuth flow (multi-workspace mode)
  GET  /healthz                   liveness + database reachability
  GET  /metrics                   Prometheus
  POST /api/v1/runs/<ref>         pushed run updates (Bearer token of a push connection)
  GET  /calendar/<token>.ics      a channel's review calendar
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot.services import Services

log = logging.getLogger(__name__)

MAX_PUSH_BODY = 256 * 1024

Response = tuple[str, list[tuple[str, str]], bytes]


class WebApp:
    def __init__(self, app: App, services: Services):
        self.bolt = SlackRequestHandler(app)
        self.services = services
        self.extra_routes: list[tuple[str, str, Callable[[dict[str, Any], str], Response]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/slack/"):
            return self.bolt(environ, start_response)
        status, headers, body = self.route(method, path, environ)
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]

    def route(self, method: str, path: str, environ: dict[str, Any]) -> Response:
        try:
            if path == "/healthz" and method == "GET":
                return self.healthz()
            if path == "/metrics" and method == "GET":
                return "200 OK", [("Content-Type", CONTENT_TYPE_LATEST)], generate_latest()
            if path.startswith("/api/v1/runs/"):
                if method != "POST":
                    return json_response(405, {"ok": False, "error": "use POST"})
                from bot.push import handle_push

                return handle_push(self.services, environ, path.removeprefix("/api/v1/runs/"))
            for prefix, verb, handler in self.extra_routes:
                if path.startswith(prefix) and method == verb:
                    return handler(environ, path.removeprefix(prefix))
        except Exception:
            log.exception("error serving %s %s", method, path)
            return json_response(500, {"ok": False, "error": "internal error"})
        return json_response(404, {"ok": False, "error": "not found"})

    def healthz(self) -> Response:
        try:
            with self.services.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return json_response(503, {"ok": False, "database": type(exc).__name__})
        return json_response(200, {"ok": True})


def json_response(status: int, body: Any) -> Response:
    reason = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
              405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "")
    return f"{status} {reason}", [("Content-Type", "application/json")], json.dumps(body).encode()


def read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit`."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    return environ["wsgi.input"].read(length) if length else b""
