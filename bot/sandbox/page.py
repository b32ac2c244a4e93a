"""The sandbox web page: a minimal Slack client in the browser, served by FakeSlack.

GET / and /static/* serve bot/sandbox/static; the page polls GET /sandbox/state and posts what
its user does to /sandbox/command|action|submit|close|home. This module turns those into the
signed requests Slack would send the bot (SlackSender) and records what Slack would show in
return (an ack body becomes an ephemeral or channel message, a submitted modal closes).
"""

from __future__ import annotations

import copy
import json
import mimetypes
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs

import requests

from .methods import views_push, views_update
from .signed import SlackSender
from .slack_api import FakeSlack
from .world import BOT_NAME, BOT_USER_ID, TEAM_NAME, SlackError, dm_id

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
DEFAULT_CHANNEL_NAME = "ml-team"


class SandboxPage:
    """The page's HTTP endpoints, attached to a FakeSlack as `fake.page`."""

    def __init__(self, fake: FakeSlack, events_url: str, signing_secret: str) -> None:
        self.fake = fake
        self.sender = SlackSender(events_url, signing_secret, fake)
        self._closed: set[str] = set()  # modal view ids submitted or closed in the page
        # Slack binds a modal to the user whose trigger_id opened it; the fake does not record
        # trigger ids, so a new modal goes to whoever acted last (one person drives the demo).
        self._owner: dict[str, str] = {}
        self._last_user = ""
        self.banner = ""  # a line above every channel, e.g. that the runs are the demo's simulation
        self.posts: dict[str, Callable[[dict], dict]] = {
            "/sandbox/command": self.command, "/sandbox/action": self.action, "/sandbox/submit": self.submit,
            "/sandbox/close": self.close, "/sandbox/home": self.home_opened,
        }

    # routing, called from FakeSlack's request threads

    def serve(self, handler: BaseHTTPRequestHandler, url: SplitResult, body: bytes) -> bool:
        """Answer a page request; False leaves the path to FakeSlack (its 404)."""
        path, method = url.path, handler.command
        if method == "GET" and path in ("/", "/index.html"):
            return self._static(handler, "index.html")
        if method == "GET" and path.startswith("/static/"):
            return self._static(handler, path.removeprefix("/static/"))
        if method == "GET" and path == "/sandbox/state":
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            return _send(handler, 200, self.state(query.get("user", ""), query.get("channel", "")))
        if method == "GET" and path.startswith("/sandbox/files/"):
            return self._file(handler, path.removeprefix("/sandbox/files/"))
        if method == "POST" and path in self.posts:
            # JSON only: a cross-site form cannot send it without a CORS preflight we never allow,
            # so another web page cannot drive the bot through this sandbox.
            if not (handler.headers.get("Content-Type") or "").startswith("application/json"):
                return _send(handler, 415, {"ok": False, "error": "send application/json"})
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return _send(handler, 400, {"ok": False, "error": "invalid_json"})
            if not isinstance(data, dict):
                return _send(handler, 400, {"ok": False, "error": "invalid_json"})
            return _send(handler, 200, self.posts[path](data))
        return False

    def _static(self, handler: BaseHTTPRequestHandler, name: str) -> bool:
        # Only plain file names from the static folder: no paths, so no way out of it.
        file = STATIC / name
        if "/" in name or "\\" in name or name.startswith(".") or not file.is_file():
            return _send(handler, 404, {"ok": False, "error": "not_found"})
        content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        return _send(handler, 200, file.read_bytes(), content_type)

    def _file(self, handler: BaseHTTPRequestHandler, file_id: str) -> bool:
        found = [f for f in self.fake.files() if f["id"] == file_id and f["content"] is not None]
        if not found:
            return _send(handler, 404, {"ok": False, "error": "file_not_found"})
        kind = mimetypes.guess_type(found[0]["name"])[0] or ""
        # Images are shown inline; anything else (SVG and HTML can run script) is a download.
        inline = kind.startswith("image/") and kind != "image/svg+xml"
        headers = {} if inline else {"Content-Disposition": "attachment"}
        return _send(handler, 200, found[0]["content"], kind if inline else "application/octet-stream", headers)

    # what the page shows

    def state(self, user: str, channel: str) -> dict:
        fake = self.fake
        with fake.lock:
            world = fake.world
            users = [copy.deepcopy(u) for u in world.users.values()]
            humans = [u["id"] for u in users if not u["is_bot"]]
            user = user if user in humans else (humans[0] if humans else "")
            channels = [{"id": c["id"], "name": c["name"], "is_im": False} for c in world.channels.values()
                        if user in c["members"] and not c["is_im"] and not c.get("is_mpim")]
            # The DM with the bot is always listed; it is opened when first used, as in Slack.
            channels.append({"id": dm_id(user), "name": BOT_NAME, "is_im": True})
            for c in channels:  # what the page needs for unread marks; it remembers what was read
                c["recent"] = _recent(world.messages.get(c["id"], []), user)
            ids = [c["id"] for c in channels]
            default = next((c["id"] for c in channels if c["name"] == DEFAULT_CHANNEL_NAME), ids[0])
            channel = channel if channel in ids else default
            messages = copy.deepcopy(world.messages.get(channel, []))
            ephemerals = [copy.deepcopy(e) for e in world.ephemerals
                          if e["channel"] == channel and e.get("user") in (user, None)]
            for modal in world.modals:
                self._owner.setdefault(modal["id"], self._last_user)
            open_modals = [m for m in world.modals if m["id"] not in self._closed and self._owner[m["id"]] == user]
            return {
                "team": TEAM_NAME, "bot": BOT_USER_ID, "user": user, "users": users, "channels": channels,
                "channel": channel, "messages": messages, "ephemerals": ephemerals,
                "modal": copy.deepcopy(open_modals[-1]) if open_modals else None,
                "home": copy.deepcopy(world.homes.get(user)), "banner": self.banner,
            }

    # what the page's user does

    def command(self, data: dict) -> dict:
        """Text from the composer: `/ready ...` goes to the bot signed; other text is just posted."""
        user, channel, text = str(data.get("user")), str(data.get("channel")), str(data.get("text") or "").strip()
        if not text or not self._known(user):
            return {"ok": False, "error": "empty" if not text else "user_not_found"}
        self._last_user = user
        if channel == dm_id(user):
            with self.fake.lock:
                self.fake.world.open_dm(user)
        if not text.startswith("/"):
            # A plain message: nothing in the bot listens to channel messages, so it is only shown.
            self._record(lambda w: _as_user(w.post(channel, {"text": text}), user))
            return {"ok": True}
        name, _, args = text.partition(" ")
        self._note(channel, user, text, "command")
        if name != "/ready":
            self._note(channel, user, f"{name} is not a valid command. This workspace has /ready.")
            return {"ok": False, "error": "unknown_command"}
        try:
            resp = self.sender.command(args.strip(), user_id=user, channel_id=channel, command=name)
        except requests.RequestException as exc:
            self._note(channel, user, f"{name} failed: readybot did not answer ({type(exc).__name__}).")
            return {"ok": False, "error": "unreachable"}
        if resp.status_code != 200:
            # What Slack shows when the app's request URL answers with an error.
            self._note(channel, user, f"{name} failed with the error \"dispatch_failed\" (HTTP {resp.status_code}).")
        elif resp.text.strip():
            try:
                body = resp.json()
            except ValueError:
                body = {"text": resp.text}
            self._show(channel, user, body if isinstance(body, dict) else {"text": str(body)})
        return {"ok": resp.status_code == 200, "status": resp.status_code}

    def action(self, data: dict) -> dict:
        """A button click on a message, an ephemeral, a modal or the Home tab."""
        user = str(data.get("user"))
        if not self._known(user):
            return {"ok": False, "error": "user_not_found"}
        self._last_user = user
        view = None
        if data.get("view_id"):
            with self.fake.lock:
                view = copy.deepcopy(self.fake.world.views.get(str(data["view_id"])))
        try:
            resp = self.sender.block_action(
                str(data.get("action_id") or ""), str(data.get("value") or ""), user_id=user,
                channel_id=str(data.get("channel") or ""), message_ts=data.get("message_ts"),
                block_id=data.get("block_id"), view=view,
            )
        except requests.RequestException as exc:
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": resp.status_code == 200, "status": resp.status_code}

    def submit(self, data: dict) -> dict:
        """Submit an open modal; the bot's ack decides whether it closes, updates or shows errors."""
        user, view_id = str(data.get("user")), str(data.get("view_id"))
        if not self._known(user):
            return {"ok": False, "error": "user_not_found"}
        self._last_user = user
        with self.fake.lock:
            view = copy.deepcopy(self.fake.world.views.get(view_id))
        if view is None:
            return {"ok": False, "error": "not_found"}
        values = data.get("values") if isinstance(data.get("values"), dict) else {}
        try:
            resp = self.sender.view_submission(view.get("callback_id") or "", values, user_id=user, view=view)
        except requests.RequestException as exc:
            return {"ok": False, "error": type(exc).__name__}
        if resp.status_code != 200:
            return {"ok": False, "status": resp.status_code}
        try:
            body = resp.json() if resp.text.strip() else {}
        except ValueError:
            body = {}
        action = body.get("response_action")
        if action == "errors":
            return {"ok": True, "status": 200, "errors": body.get("errors") or {}}
        with self.fake.changed:
            try:
                if action == "update":
                    views_update(self.fake.world, {"view_id": view_id, "view": body.get("view")})
                elif action == "push":
                    views_push(self.fake.world, {"trigger_id": "sandbox", "view": body.get("view")})
                elif action == "clear":
                    self._closed.update(v for v, owner in self._owner.items() if owner == user)
                else:
                    self._closed.add(view_id)
            except SlackError as exc:
                return {"ok": False, "status": 200, "error": f"bad response_action view: {exc.error}"}
            self.fake.changed.notify_all()
        return {"ok": True, "status": 200}

    def close(self, data: dict) -> dict:
        with self.fake.lock:
            self._closed.add(str(data.get("view_id")))
        return {"ok": True}

    def home_opened(self, data: dict) -> dict:
        """The user opened the bot's Home tab: Slack sends app_home_opened (see the app manifest)."""
        user = str(data.get("user"))
        if not self._known(user):
            return {"ok": False, "error": "user_not_found"}
        event = {"type": "app_home_opened", "user": user, "channel": dm_id(user), "tab": "home",
                 "event_ts": self._ts()}
        home = self.fake.home(user)
        if home:
            event["view"] = home
        try:
            resp = self.sender.event(event)
        except requests.RequestException as exc:
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": resp.status_code == 200, "status": resp.status_code}

    # recording what Slack would show

    def _record(self, change: Callable[[Any], Any]) -> None:
        # Under the fake's condition so FakeSlack.wait_for sees page-made changes too.
        with self.fake.changed:
            change(self.fake.world)
            self.fake.changed.notify_all()

    def _show(self, channel: str, user: str, body: dict) -> None:
        content = {k: body[k] for k in ("text", "blocks") if body.get(k)}
        if body.get("response_type") == "in_channel":
            self._record(lambda w: w.post(channel, content))
        else:
            self._record(lambda w: w.ephemerals.append({"channel": channel, "user": user, "ts": w.next_ts(),
                                                        **content}))

    def _note(self, channel: str, user: str, text: str, kind: str = "slackbot") -> None:
        """A line only the page's user sees, not from the bot: their own command, or Slack's error."""
        self._record(lambda w: w.ephemerals.append({"channel": channel, "user": user, "ts": w.next_ts(),
                                                    "text": text, "sandbox": kind}))

    def user_tz(self, user: str) -> str:
        with self.fake.lock:
            return self.fake.world.users[user]["tz"]

    def _known(self, user: str) -> bool:
        with self.fake.lock:
            return user in self.fake.world.users

    def _ts(self) -> str:
        with self.fake.lock:
            return self.fake.world.next_ts()


UNREAD_MAX = 99  # Slack, too, stops counting at a point


def _recent(messages: list[dict], user: str) -> list[str]:
    """The ts of the latest channel-level messages someone else wrote: replies in a thread do not
    make a channel unread, and neither do a person's own messages."""
    shown = [m["ts"] for m in messages
             if m.get("user") != user and (not m.get("thread_ts") or m["thread_ts"] == m["ts"])]
    return shown[-UNREAD_MAX:]


def _as_user(message: dict, user: str) -> None:
    # world.post writes bot messages; a person's message has their id and no bot fields.
    message.update(user=user)
    message.pop("bot_id", None)
    message.pop("app_id", None)


def _send(handler: BaseHTTPRequestHandler, status: int, answer: dict | bytes,
          content_type: str = "application/json; charset=utf-8", headers: dict | None = None) -> bool:
    data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("Cache-Control", "no-store")  # the page and its state are always live
    handler.send_header("X-Content-Type-Options", "nosniff")
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)
    return True
