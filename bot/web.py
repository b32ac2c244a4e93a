"""The HTTP surface of `readybot serve`: one small WSGI router in front of Bolt.

  POST /slack/events              Bolt (commands, events, interactivity)
  GET  /slack/install, /slack/oauth_redirect   Bolt's OAuth flow (multi-workspace mode)
  GET  /healthz                   liveness + database reachability
  GET  /metrics                   Prometheus
  POST /api/v1/runs/<ref>         pushed run updates (Bearer token of a push connection)
  GET  /calendar/<token>.ics      a channel's review calendar
  GET  /decisions/<token>.md|.csv a channel's decision records (same token)

`readybot serve --role worker` serves only /healthz and /metrics (HealthApp).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text

from bot.httpio import Response, json_response
from bot.listeners.replays import REPLAY_KEY, signed_request_key
from bot.listeners.shapes import IGNORED_TYPES, shape_problem
from bot.push import handle_push
from bot.services import Services

log = logging.getLogger(__name__)

MAX_SLACK_BODY = 2 * 1024 * 1024  # Slack's largest payloads (modal state) are far below this


class HealthApp:
    """The HTTP of `readybot serve --role worker`: the scheduler's process answers its health
    checks and shows its metrics (polls, deliveries), and nothing else."""

    def __init__(self, services: Services):
        self.services = services

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if method == "GET" and path == "/healthz":
            status, headers, body = healthz(self.services)
        elif method == "GET" and path == "/metrics":
            status, headers, body = "200 OK", [("Content-Type", CONTENT_TYPE_LATEST)], generate_latest()
        else:
            status, headers, body = json_response(404, {"ok": False, "error": "not found (a worker serves only "
                                                                          "/healthz and /metrics)"})
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]


class WebApp:
    def __init__(self, app: App, services: Services):
        self.bolt = SlackEdge(app, services.settings.slack_signing_secret)
        self.services = services

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
                return handle_push(self.services, environ, path.removeprefix("/api/v1/runs/"))
            if path.startswith("/calendar/") and method == "GET":
                from bot.handlers.calendar_feed import serve_feed

                return serve_feed(self.services, path.removeprefix("/calendar/"))
            if path.startswith("/decisions/") and method == "GET":
                from bot.handlers.decision_export import serve_export

                return serve_export(self.services, path.removeprefix("/decisions/"))
        except Exception:
            log.exception("error serving %s %s", method, path)
            return json_response(500, {"ok": False, "error": "internal error"})
        return json_response(404, {"ok": False, "error": "not found"})

    def healthz(self) -> Response:
        return healthz(self.services)


def healthz(services: Services) -> Response:
    """Liveness and database reachability."""
    try:
        with services.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return json_response(503, {"ok": False, "database": type(exc).__name__})
    return json_response(200, {"ok": True})


class SlackEdge(SlackRequestHandler):
    """Bolt's WSGI adapter, hardened: a request that is not signed is refused (401) before its
    body is parsed, and a signed body that does not parse is a 400, never a 500 with a traceback.

    Bolt's own parser also has a trap: any form body that merely contains the text "payload"
    (a slash command such as `/ready track mlflow:payload-v2`) is parsed as an empty interaction
    and dropped as unhandled. Here form bodies are parsed by their fields.
    """

    def __init__(self, app: App, signing_secret: str | None):
        super().__init__(app)
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None

    def dispatch(self, request) -> BoltResponse:  # noqa: ANN001 - slack_bolt's WsgiHttpRequest
        headers = request.get_headers()
        try:
            length = int(request.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _bolt_error(400, "bad Content-Length")
        if length > MAX_SLACK_BODY:
            return _bolt_error(413, "request too large")
        try:
            raw = request.get_body()
        except UnicodeDecodeError:
            return _bolt_error(400, "body is not UTF-8")
        if self.verifier is not None and not self._signed(raw, headers):
            return _bolt_error(401, "invalid request")
        try:
            body = parse_slack_body(raw, str(headers.get("content-type") or ""))
            req = BoltRequest(body="", query=request.query_string, headers=headers)
            req.raw_body, req.body = raw, body
            req.context = build_context(BoltContext({}), body)
            if self.verifier is not None:
                timestamp = str(headers.get("x-slack-request-timestamp") or "")
                req.context[REPLAY_KEY] = signed_request_key(timestamp, raw)
        except (ValueError, TypeError, AttributeError, KeyError):
            log.warning("malformed request body from Slack (%s bytes)", len(raw))
            return _bolt_error(400, "malformed body")
        field = shape_problem(body)
        if field is not None:
            log.warning("malformed Slack request: field %s is missing or of the wrong type", field)
            return _bolt_error(400, f"malformed field: {field}")
        if body.get("type") in IGNORED_TYPES:
            log.info("ignored a %s request nothing handles", body["type"])
            return BoltResponse(status=200, body="")
        return self.app.dispatch(req)

    def _signed(self, raw: str, headers: dict[str, Any]) -> bool:
        timestamp = str(headers.get("x-slack-request-timestamp") or "")
        signature = str(headers.get("x-slack-signature") or "")
        # str.isdigit() is true for "²" and "١", which int() then refuses or reads: ASCII digits
        # only, and few enough of them that int() never meets its digit limit.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not signature:
            return False
        return self.verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)


def parse_slack_body(raw: str, content_type: str) -> dict[str, Any]:
    """A Slack request body as a dict: JSON (events), `payload=<json>` (interactions) or a form
    (slash commands). Raises ValueError for anything else."""
    if not raw:
        return {}
    if content_type.split(";")[0].strip() == "application/json" or raw.lstrip().startswith("{"):
        body = json.loads(raw)
    else:
        form = dict(parse_qsl(raw, keep_blank_values=True))
        body = json.loads(form["payload"]) if "payload" in form else form
    if not isinstance(body, dict):
        raise ValueError("a Slack request body is a JSON object or a form")
    return body


def _bolt_error(status: int, error: str) -> BoltResponse:
    return BoltResponse(status=status, body=json.dumps({"error": error}),
                        headers={"content-type": "application/json"})
