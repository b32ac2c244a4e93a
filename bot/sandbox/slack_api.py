"""FakeSlack: a real local HTTP server that answers a subset of the Slack Web API.

Point `WebClient(base_url=fake.api_url)` (or SLACK_API_URL) at it. It records every call, keeps a
small workspace (users, channels, messages, views, files: see world.py), can be told to fail the
next calls of a method, and serves response_url endpoints. Being a real server (not a patched
client) means retries, headers, encodings and timeouts go through the same code as in production.
"""

from __future__ import annotations

import copy
import email.policy
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .methods import METHODS
from .world import SlackError, World, dm_id

# Fields slack_sdk sends as JSON text inside form bodies; decoded so handlers and tests see lists/dicts.
JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")

# https://api.slack.com/interactivity/handling#message_responses: 5 uses within 30 minutes.
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60


@dataclass(frozen=True)
class Call:
    """One Web API request as the fake received it: method, decoded params, request headers."""

    method: str
    params: dict
    headers: dict


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None
    remaining: int


class FakeSlack:
    """A local Slack Web API; `with FakeSlack() as fake:` starts it on a random port."""

    def __init__(self, tokens: tuple[str, ...] = ("xoxb-test",), seed: bool = True, port: int = 0,
                 host: str = "127.0.0.1", app_tokens: tuple[str, ...] = ("xapp-test",)) -> None:
        self.tokens = set(tokens)
        # App-level tokens (xapp-) are good for apps.connections.open only, as on Slack.
        self.app_tokens = set(app_tokens)
        # The ws:// URL apps.connections.open hands out: a Socket Mode server the caller runs.
        self.socket_mode_url: str | None = None
        self.refresh_tokens: set[str] = set()  # accepted by oauth.v2.access (token rotation)
        self.host, self.port = host, port
        self.page: Any = None  # the sandbox web page (page.SandboxPage), attached by `readybot demo`
        self.world = World()
        if seed:
            self.world.seed()
        self.lock = threading.RLock()  # public: the sandbox page reads the world under it too
        self.changed = threading.Condition(self.lock)  # wakes tests waiting for a call/response
        self._calls: list[Call] = []
        self._failures: dict[str, _Failure] = {}
        self._response_urls: dict[str, dict] = {}
        self._responses: list[dict] = []
        self._post_limit: tuple[float, float] | None = None  # (per second, burst), see limit_posts
        self._post_buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeSlack:
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self.world.base_url = self.url
        # A short poll interval makes stop() (shutdown waits for the next poll) quick in tests.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self._server.server_address[1]}/"

    @property
    def api_url(self) -> str:
        # Trailing slash: slack_sdk joins base_url and the method name with urljoin.
        return self.url + "api/"

    # what tests inspect

    def calls(self, method: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        found = self.calls(method)
        if not found:
            raise LookupError(f"no {method} call recorded")
        return found[-1]

    def clear(self) -> None:
        """Forget recorded calls and responses; the workspace itself stays."""
        with self.lock:
            self._calls.clear()
            self._responses.clear()

    def fail_next(self, method: str, error: str = "ratelimited", *, status: int | None = None,
                  retry_after: int | None = None, count: int = 1) -> None:
        """Answer the next `count` calls of `method` with `error` instead of running it.

        "ratelimited" defaults to HTTP 429 with `Retry-After: 1` (pass retry_after=0 in tests);
        other errors answer HTTP 200 with ok:false, as Slack does.
        """
        status = status or (429 if error == "ratelimited" else 200)
        if retry_after is None and status == 429:
            retry_after = 1
        with self.lock:
            self._failures[method] = _Failure(error, status, retry_after, count)

    def limit_posts(self, per_second: float = 1.0, burst: float = 1.0) -> None:
        """Enforce chat.postMessage's limit per channel, "about 1 message per second per channel,
        short bursts allowed" (https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting):
        a token bucket per channel; over it, HTTP 429 with a whole-second Retry-After, as Slack answers
        (https://docs.slack.dev/apis/web-api/rate-limits). The refused call is recorded, and posts nothing."""
        with self.lock:
            self._post_limit = (per_second, burst)
            self._post_buckets.clear()

    def _over_post_limit(self, channel: str) -> int | None:
        """Seconds to wait when a post to `channel` now is over the limit, else None (and counted)."""
        if self._post_limit is None:
            return None
        rate, burst = self._post_limit
        now = time.monotonic()
        tokens, at = self._post_buckets.get(channel, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if tokens < 1:
            self._post_buckets[channel] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / rate))
        self._post_buckets[channel] = (tokens - 1, now)
        return None

    def messages(self, channel: str) -> list[dict]:
        """Messages in a channel (or a user's DM), oldest first, as they are now after updates."""
        with self.lock:
            channel = dm_id(channel) if channel in self.world.users else channel
            return copy.deepcopy(self.world.messages.get(channel, []))

    def ephemerals(self, channel: str | None = None) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(e) for e in self.world.ephemerals if channel in (None, e["channel"])]

    def home(self, user_id: str) -> dict | None:
        with self.lock:
            return copy.deepcopy(self.world.homes.get(user_id))

    def modals(self) -> list[dict]:
        """Every modal opened or pushed, in order, as currently updated."""
        with self.lock:
            return copy.deepcopy(self.world.modals)

    def files(self) -> list[dict]:
        """Uploaded files; "content" holds the bytes received at the upload URL."""
        with self.lock:
            return copy.deepcopy(list(self.world.files.values()))

    def add_user(self, user_id: str, name: str, tz: str = "UTC", is_bot: bool = False,
                 real_name: str | None = None, is_admin: bool = False, is_owner: bool = False,
                 email: str | None = None) -> dict:
        with self.lock:
            return copy.deepcopy(self.world.add_user(user_id, name, tz, is_bot, real_name, is_admin, is_owner, email))

    def add_channel(self, channel_id: str, name: str, members: list[str] | tuple = (),
                    is_private: bool = False) -> dict:
        with self.lock:
            return copy.deepcopy(self.world.add_channel(channel_id, name, members, is_private))

    # response_url

    def new_response_url(self, channel: str | None = None, message_ts: str | None = None,
                         user: str | None = None) -> str:
        """A fresh response_url; with channel (and message_ts) responses act on that channel/message,
        and ephemeral responses are shown to `user` (who invoked the command or clicked)."""
        rid = uuid.uuid4().hex
        with self.lock:
            self._response_urls[rid] = {"channel": channel, "message_ts": message_ts, "uses": 0,
                                        "created": time.time(), "user": user}
        return f"{self.url}response/{rid}"

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Block until predicate() is truthy (re-checked on every call or response), or time out.

        For work the bot does after acking (response_url posts, modal opens): tests wait for the
        event itself instead of sleeping for a guessed time."""
        with self.changed:
            result = self.changed.wait_for(predicate, timeout)
        return result

    def command_replied(self, response_url: str, body: dict) -> None:
        """The reply a slash command's ack carried: the message a later response with
        replace_original replaces (https://api.slack.com/interactivity/handling#message_responses)."""
        with self.lock:
            url = self._response_urls.get(response_url.rsplit("/", 1)[-1])
            if url is not None:
                url["reply"] = copy.deepcopy(body)
            self.changed.notify_all()

    def command_reply(self, response_url: str) -> dict | None:
        """What the user now sees as the reply to the command behind `response_url`: its ack,
        or what replaced it."""
        with self.lock:
            url = self._response_urls.get(response_url.rsplit("/", 1)[-1])
            return copy.deepcopy(url.get("reply")) if url else None

    def responses(self, response_url: str | None = None) -> list[dict]:
        """Bodies posted to response URLs, each with its "response_url" added."""
        with self.lock:
            return [copy.deepcopy(r) for r in self._responses if response_url in (None, r["response_url"])]

    # request handling, called from server threads

    def handle_api(self, method: str, params: dict, headers: dict) -> tuple[int, dict, dict]:
        with self.lock:
            self._calls.append(Call(method, copy.deepcopy(params), headers))
            self.changed.notify_all()
            failure = self._failures.get(method)
            if failure is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    del self._failures[method]
                extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
                return failure.status, {"ok": False, "error": failure.error}, extra
            if method == "oauth.v2.access":
                return 200, self._oauth_access(params), {}
            if method not in METHODS and method != "apps.connections.open":
                return 200, {"ok": False, "error": "unknown_method"}, {}
            auth = headers.get("Authorization") or headers.get("authorization") or ""
            token = auth.removeprefix("Bearer ").strip() or params.get("token")
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, {}
            if method == "apps.connections.open":
                return 200, self._connections_open(token), {}
            if token in self.app_tokens or token.startswith("xapp-"):
                return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
            if token not in self.tokens:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            if method == "chat.postMessage":
                wait = self._over_post_limit(str(params.get("channel")))
                if wait is not None:
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
            try:
                return 200, {"ok": True, **METHODS[method](self.world, params)}, {}
            except SlackError as exc:
                return 200, {"ok": False, "error": exc.error, **exc.extra}, {}

    def _connections_open(self, token: str) -> dict:
        """https://api.slack.com/methods/apps.connections.open: called with the app-level token
        (xapp-...), answers the WebSocket URL to open (https://api.slack.com/apis/connections/socket).
        Other tokens answer not_allowed_token_type; with no Socket Mode server set, a generic error."""
        if not token.startswith("xapp-") and token not in self.app_tokens:
            return {"ok": False, "error": "not_allowed_token_type"}
        if token not in self.app_tokens:
            return {"ok": False, "error": "invalid_auth"}
        if self.socket_mode_url is None:
            return {"ok": False, "error": "fatal_error"}
        return {"ok": True, "url": self.socket_mode_url}

    def _oauth_access(self, params: dict) -> dict:
        """https://api.slack.com/methods/oauth.v2.access with grant_type=refresh_token, as used by
        token rotation (https://api.slack.com/authentication/rotation): the app authenticates with
        its client id and secret, not a token, and gets a fresh bot token and refresh token."""
        if params.get("grant_type") != "refresh_token" or params.get("refresh_token") not in self.refresh_tokens:
            return {"ok": False, "error": "invalid_refresh_token"}
        n = len(self.refresh_tokens)
        token, refresh = f"xoxe.xoxb-rotated-{n}", f"xoxe-1-refresh-{n}"
        self.tokens.add(token)
        self.refresh_tokens.add(refresh)
        return {"ok": True, "access_token": token, "refresh_token": refresh, "expires_in": 43200,
                "token_type": "bot", "scope": "commands,chat:write", "bot_user_id": "U0BOT",
                "app_id": "A0SANDBOX", "team": {"id": "T0SANDBOX", "name": "Sandbox"}, "enterprise": None,
                "is_enterprise_install": False}

    def handle_upload(self, file_id: str, body: bytes, content_type: str) -> tuple[int, str]:
        if content_type.startswith("multipart/form-data"):
            body = next(iter(v for v in _multipart(body, content_type).values() if isinstance(v, bytes)), b"")
        with self.lock:
            if file_id not in self.world.files:
                return 404, "file not found"
            self.world.files[file_id]["content"] = body
        return 200, f"OK - {len(body)}"

    def handle_response(self, rid: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            url = self._response_urls.get(rid)
            # An unknown id is answered like an expired one; the fake only issues ids it knows.
            if url is None or time.time() - url["created"] > RESPONSE_URL_TTL_SECONDS:
                return 404, {"ok": False, "error": "expired_url"}
            if url["uses"] >= RESPONSE_URL_MAX_USES:
                return 404, {"ok": False, "error": "used_url"}
            url["uses"] += 1
            self._responses.append({**body, "response_url": f"{self.url}response/{rid}"})
            if body.get("replace_original") and not url["message_ts"]:
                url["reply"] = {k: v for k, v in body.items() if k != "replace_original"}
            self.changed.notify_all()
            if url["channel"]:
                self._apply_response(url, body)
            return 200, {"ok": True}

    def _apply_response(self, url: dict, body: dict) -> None:
        # Mirror what Slack does with a response: edit or delete the source message, or post anew.
        world, channel, ts = self.world, url["channel"], url["message_ts"]
        content = {k: body.get(k) for k in ("text", "blocks", "thread_ts")}
        try:
            if ts and body.get("delete_original"):
                world.delete(channel, ts)
            elif ts and body.get("replace_original"):
                # Replacing is wholesale: blocks the response leaves out are gone, unlike chat.update.
                message = world.message(channel, ts)
                message.pop("blocks", None)
                message.update({k: v for k, v in content.items() if v is not None and k != "thread_ts"})
            elif body.get("response_type") == "in_channel":
                world.post(channel, content)
            else:
                world.ephemerals.append({"channel": channel, "user": url["user"], "ts": world.next_ts(), **content})
        except SlackError:
            pass  # Slack answers 200 even when the original message is gone.


def parse_params(query: str, body: bytes, content_type: str) -> dict:
    """Params of a Web API request: query string plus a form, multipart or JSON body."""
    params: dict[str, Any] = dict(parse_qsl(query))
    if content_type.startswith("application/json"):
        params.update(json.loads(body or b"{}"))
    elif content_type.startswith("multipart/form-data"):
        params.update(_multipart(body, content_type))
    elif body:
        params.update(parse_qsl(body.decode("utf-8")))
    for key in JSON_FIELDS:
        if isinstance(params.get(key), str) and params[key][:1] in ("[", "{"):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass  # left as text: the method answers invalid_blocks_format / invalid_arguments
    return params


def _multipart(body: bytes, content_type: str) -> dict[str, str | bytes]:
    # The stdlib email parser reads multipart/form-data (cgi is gone in 3.13); files stay bytes.
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str | bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        fields[str(name)] = data if part.get_filename() else data.decode("utf-8")
    return fields


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output readable; FakeSlack.calls() is the log

    def _route(self) -> None:
        fake: FakeSlack = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type") or ""
        kind, _, name = url.path.strip("/").partition("/")
        if kind == "api" and name:
            try:
                params = parse_params(url.query, body, content_type)
            except (ValueError, TypeError):
                return self._send(200, {"ok": False, "error": "invalid_json"})
            status, answer, headers = fake.handle_api(name, params, dict(self.headers))
            return self._send(status, answer, headers)
        if kind == "upload" and name:
            status, text = fake.handle_upload(name, body, content_type)
            return self._send(status, text)
        if kind == "response" and name:
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return self._send(400, {"ok": False, "error": "invalid_payload"})
            return self._send(*fake.handle_response(name, payload))
        if fake.page is not None and fake.page.serve(self, url, body):
            return
        self._send(404, {"ok": False, "error": "not_found"})

    def _send(self, status: int, answer: dict | str, headers: dict | None = None) -> None:
        is_json = isinstance(answer, dict)
        data = json.dumps(answer).encode() if is_json else str(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8" if is_json else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
