"""SlackSender: sends the bot what Slack would, over real HTTP and signed the way Slack signs.

Payload shapes follow https://api.slack.com/interactivity/slash-commands,
https://api.slack.com/reference/interaction-payloads and
https://api.slack.com/apis/connections/events-api#callback-field. Signing follows
https://api.slack.com/authentication/verifying-requests-from-slack: HMAC-SHA256 over
`v0:{timestamp}:{raw body}`, computed by slack_sdk's own SignatureVerifier. Named signed.py, not
requests.py, so `import requests` keeps meaning the library.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier

from .slack_api import FakeSlack
from .world import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

# Slack still sends the legacy verification token; Bolt ignores it, but payloads carry it.
VERIFICATION_TOKEN = "sandbox-verification-token"


class SlackSender:
    """Posts slash commands, interactions and events to the bot's request URL.

    Every public method takes keyword-only `timestamp` (default: now) and `secret` (default: the
    signing secret) so tests can send stale or wrongly signed requests.
    """

    def __init__(self, events_url: str, signing_secret: str, fake: FakeSlack | None = None,
                 timeout: float = 10.0) -> None:
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.fake = fake
        self.timeout = timeout
        self._seq = itertools.count(1)
        self.last_response_url: str | None = None  # of the last slash command sent

    def post(self, body: str, content_type: str, headers: dict | None = None, *,
             timestamp: int | str | None = None, secret: str | None = None) -> requests.Response:
        """POST a raw body with Slack's signature headers."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(secret or self.signing_secret).generate_signature(timestamp=ts, body=body)
        sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
                **(headers or {})}
        return requests.post(self.events_url, data=body.encode("utf-8"), headers=sent, timeout=self.timeout)

    def command(self, text: str, user_id: str = "U1", channel_id: str = "C1", team_id: str = TEAM_ID,
                command: str = "/ready", **sign: Any) -> requests.Response:
        form = {
            "token": VERIFICATION_TOKEN, "team_id": team_id, "team_domain": TEAM_DOMAIN,
            "enterprise_id": "", "enterprise_name": "", "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id), "user_id": user_id,
            "user_name": self._user_name(user_id), "command": command, "text": text,
            "api_app_id": APP_ID, "is_enterprise_install": "false",
            "response_url": self._response_url(channel_id, user_id=user_id), "trigger_id": self._trigger_id(),
        }
        self.last_response_url = form["response_url"]
        resp = self.post(urlencode(form), "application/x-www-form-urlencoded", **sign)
        if self.fake is not None and resp.status_code == 200 and resp.text.strip().startswith("{"):
            self.fake.command_replied(form["response_url"], resp.json())
        return resp

    def action(self, payload: dict, **sign: Any) -> requests.Response:
        """Any interaction payload (block_actions, view_submission, shortcut...), as `payload=<json>`."""
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **sign)

    def block_action(self, action_id: str, value: str, user_id: str = "U1", channel_id: str = "C1",
                     message_ts: str | None = None, block_id: str | None = None, view: dict | None = None,
                     team_id: str = TEAM_ID, **sign: Any) -> requests.Response:
        """A button click on a message (message_ts) or, with `view`, inside a modal / Home tab."""
        action_ts = f"{time.time():.6f}"
        payload: dict[str, Any] = {
            "type": "block_actions", "token": VERIFICATION_TOKEN, "api_app_id": APP_ID,
            "user": self._user(user_id, team_id), "team": {"id": team_id, "domain": TEAM_DOMAIN},
            "enterprise": None, "is_enterprise_install": False, "trigger_id": self._trigger_id(),
            "state": {"values": {}},
            "actions": [{"type": "button", "action_id": action_id, "block_id": block_id or "sandbox-block",
                         "value": value, "text": {"type": "plain_text", "text": value}, "action_ts": action_ts}],
        }
        if view is not None:
            payload.update(container={"type": "view", "view_id": view.get("id")}, view=view)
        else:
            payload.update(
                container={"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                           "is_ephemeral": False},
                channel={"id": channel_id, "name": self._channel_name(channel_id)},
                message=self._message(channel_id, message_ts),
                response_url=self._response_url(channel_id, message_ts, user_id),
            )
        return self.action(payload, **sign)

    def view_submission(self, callback_id: str, values: dict, user_id: str = "U1",
                        private_metadata: str | None = None, view: dict | None = None,
                        team_id: str = TEAM_ID, **sign: Any) -> requests.Response:
        """Submit a modal. `values` is view.state.values: {block_id: {action_id: state}}; a plain
        string state is shorthand for a plain_text_input. `view` is the modal submitted; by default
        the last modal the fake opened with this callback_id supplies id, blocks and private_metadata."""
        opened = [m for m in (self.fake.modals() if self.fake else []) if m.get("callback_id") == callback_id]
        view = view or (opened[-1] if opened else None) or {
            "id": f"V0SANDBOX{next(self._seq)}", "team_id": team_id, "type": "modal", "blocks": [],
            "title": {"type": "plain_text", "text": "Sandbox"}, "app_id": APP_ID, "private_metadata": "",
            "hash": "sandbox", "previous_view_id": None, "external_id": "",
        }
        state = {block: {action: {"type": "plain_text_input", "value": s} if isinstance(s, str) else s
                         for action, s in actions.items()} for block, actions in values.items()}
        view = {**view, "callback_id": callback_id, "state": {"values": state}}
        if private_metadata is not None:
            view["private_metadata"] = private_metadata
        payload = {
            "type": "view_submission", "token": VERIFICATION_TOKEN, "api_app_id": APP_ID,
            "team": {"id": team_id, "domain": TEAM_DOMAIN}, "user": self._user(user_id, team_id),
            "enterprise": None, "is_enterprise_install": False, "trigger_id": self._trigger_id(),
            "view": view, "response_urls": [],
        }
        return self.action(payload, **sign)

    def view_closed(self, callback_id: str, user_id: str = "U1", view: dict | None = None,
                    **sign: Any) -> requests.Response:
        """Close a modal without submitting it. Slack sends this only for a view opened with
        notify_on_close (https://api.slack.com/reference/interaction-payloads/views#view_closed);
        by default the last modal the fake opened with this callback_id, refused if it did not ask."""
        opened = [m for m in (self.fake.modals() if self.fake else []) if m.get("callback_id") == callback_id]
        view = view or (opened[-1] if opened else None)
        if view is None or not view.get("notify_on_close"):
            raise ValueError(f"Slack sends no view_closed for {callback_id!r}: not opened with notify_on_close")
        payload = {
            "type": "view_closed", "token": VERIFICATION_TOKEN, "api_app_id": APP_ID,
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "user": self._user(user_id),
            "enterprise": None, "is_enterprise_install": False, "view": view, "is_cleared": False,
        }
        return self.action(payload, **sign)

    def event(self, event: dict, event_id: str | None = None, retry_num: int | None = None,
              retry_reason: str = "http_timeout", **sign: Any) -> requests.Response:
        """An Events API delivery; retry_num adds the headers Slack puts on redelivered events."""
        envelope = {
            "token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "api_app_id": APP_ID, "event": event,
            "type": "event_callback", "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()), "is_ext_shared_channel": False,
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self.post(json.dumps(envelope), "application/json", headers, **sign)

    # details filled in from the fake's workspace when there is one

    def _trigger_id(self) -> str:
        return f"{next(self._seq)}.{int(time.time())}.{uuid.uuid4().hex}"

    def _response_url(self, channel_id: str, message_ts: str | None = None, user_id: str | None = None) -> str:
        if self.fake is None:
            return f"https://hooks.slack.com/actions/{TEAM_ID}/{next(self._seq)}/sandbox"
        return self.fake.new_response_url(channel_id, message_ts, user_id)

    def _user_name(self, user_id: str) -> str:
        user = self.fake.world.users.get(user_id) if self.fake else None
        return user["name"] if user else user_id.lower()

    def _user(self, user_id: str, team_id: str = TEAM_ID) -> dict:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": team_id}

    def _channel_name(self, channel_id: str) -> str:
        channel = self.fake.world.channels.get(channel_id) if self.fake else None
        return channel["name"] if channel else channel_id.lower()

    def _message(self, channel_id: str, message_ts: str | None) -> dict:
        found = [m for m in (self.fake.messages(channel_id) if self.fake else []) if m["ts"] == message_ts]
        return found[0] if found else {"type": "message", "ts": message_ts, "text": ""}
