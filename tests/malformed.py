"""Signed but malformed Slack payloads, built as a table: every payload kind readybot handles ×
the field paths it reads × values Slack never sends there (issue 12, item 9). Shapes follow
https://api.slack.com/reference/interaction-payloads and
https://api.slack.com/apis/connections/events-api#callback-field; each case breaks one field.
Used by tests/e2e/test_malformed_payloads.py and the HTTP fuzz."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

TEAM = {"id": "T0SANDBOX", "domain": "sandbox"}
USER = {"id": "U1", "username": "u1", "name": "u1", "team_id": "T0SANDBOX"}
DELETE = object()  # the field is left out

BUTTONS = ("target_review", "target_snooze", "target_mute", "target_ack", "review_postpone", "review_hold",
           "review_cancel", "standup_answer", "standup_away", "standup_skip", "standup_questions")
VIEWS = {
    "review_modal": {"title": {"title": {"type": "plain_text_input", "value": "Sweep"}},
                     "when": {"when": {"type": "plain_text_input", "value": "tomorrow 14:00"}},
                     "runs": {"runs": {"type": "plain_text_input", "value": "nowhere:r1"}}},
    "connect_modal": {"kind": {"value": {"type": "static_select", "selected_option": {"value": "push"}}},
                      "name": {"name": {"type": "plain_text_input", "value": "trainer"}}},
    "standup_answer_view": {"q0": {"value": {"type": "plain_text_input", "value": "did things"}}},
    "standup_away_view": {"until": {"date": {"type": "datepicker", "selected_date": "2026-12-24"}}},
    "standup_questions_view": {"questions": {"value": {"type": "plain_text_input", "value": "What?"}}},
}
BAD_VALUES: tuple[Any, ...] = (DELETE, None, 12, ["x"], {"id": 7}, "x" * 20_000, True)


def block_actions(action_id: str) -> dict[str, Any]:
    return {"type": "block_actions", "api_app_id": "A0SANDBOX", "user": dict(USER), "team": dict(TEAM),
            "trigger_id": "1.2.3", "channel": {"id": "C1", "name": "general"},
            "container": {"type": "message", "message_ts": "1.0", "channel_id": "C1"},
            "message": {"ts": "1.0", "text": ""}, "state": {"values": {}},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": "1",
                         "action_ts": "1700000000.000001"}]}


def view_submission(callback_id: str) -> dict[str, Any]:
    view = {"id": "V0FUZZ", "hash": "1.fuzz", "type": "modal", "callback_id": callback_id, "blocks": [],
            "private_metadata": "C1", "state": {"values": copy.deepcopy(VIEWS[callback_id])}}
    return {"type": "view_submission", "api_app_id": "A0SANDBOX", "team": dict(TEAM), "user": dict(USER),
            "trigger_id": "1.2.3", "view": view}


def view_closed() -> dict[str, Any]:
    return {"type": "view_closed", "team": dict(TEAM), "user": dict(USER), "is_cleared": False,
            "view": {"id": "V0FUZZ", "callback_id": "review_modal", "private_metadata": "C1 alert:1"}}


def shortcut() -> dict[str, Any]:
    return {"type": "shortcut", "callback_id": "x", "trigger_id": "1.2.3", "team": dict(TEAM), "user": dict(USER)}


def event(inner: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event_callback", "team_id": "T0SANDBOX", "api_app_id": "A0SANDBOX", "event": inner,
            "event_id": "Ev0FUZZ", "event_time": 1700000000,
            "authorizations": [{"team_id": "T0SANDBOX", "user_id": "UBOT", "is_bot": True}]}


HOME = {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}
DM = {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "text": "help", "ts": "1.0"}

# (kind, a payload builder, the field paths to break)
INTERACTION_PATHS = ("type", "team", "team.id", "user", "user.id", "trigger_id", "channel", "container")
TABLE: list[tuple[str, Any, tuple[str, ...]]] = [
    *[(f"block_actions:{b}", lambda b=b: block_actions(b),
       ("actions", "actions.0", "actions.0.value", "actions.0.action_id", "actions.0.action_ts"))
      for b in BUTTONS],
    *[(f"view_submission:{v}", lambda v=v: view_submission(v),
       ("view", "view.state", "view.state.values", "view.private_metadata", "view.id", "view.blocks",
        "view.callback_id")) for v in VIEWS],
    ("view_closed", view_closed, ("view", "view.private_metadata", "view.callback_id")),
    ("shortcut", shortcut, ("callback_id",)),
]
EVENT_PATHS = ("event", "event.type", "event.user", "event.channel", "event.tab", "event.text",
               "event.channel_type", "event.thread_ts", "team_id", "authorizations", "event_id")


@dataclass(frozen=True)
class Case:
    name: str
    body: str
    content_type: str


def broken(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        node.pop(key) if isinstance(node, list) else node.pop(key, None)
    else:
        node[key] = value
    return out


def _form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def cases() -> list[Case]:
    """Every case once, in a fixed order."""
    out: list[Case] = []
    for n, (kind, build, paths) in enumerate(TABLE):
        for i, path in enumerate((*INTERACTION_PATHS, *paths)):
            # Each (kind, path) meets two bad values, turning through the list so every value
            # meets every path somewhere in the table.
            for value in (BAD_VALUES[(n + i) % len(BAD_VALUES)], BAD_VALUES[(n + i + 3) % len(BAD_VALUES)]):
                out.append(Case(f"{kind} {path}={_short(value)}", _form(broken(build(), path, value)),
                                "application/x-www-form-urlencoded"))
    for inner_name, inner in (("app_home_opened", HOME), ("message.im", DM)):
        for i, path in enumerate(EVENT_PATHS):
            for value in BAD_VALUES[i % 2::2]:
                body = json.dumps(broken(event(inner), path, value))
                out.append(Case(f"{inner_name} {path}={_short(value)}", body, "application/json"))
    for value in BAD_VALUES:
        out.append(Case(f"url_verification challenge={_short(value)}",
                        json.dumps(broken({"type": "url_verification", "challenge": "c", "token": "t"},
                                          "challenge", value)), "application/json"))
    for name, body in (("payload not JSON", "payload=%7Bnope"), ("payload a list", "payload=%5B1%5D"),
                       ("payload a number", "payload=12"), ("payload empty", "payload="),
                       ("payload twice", "payload=%7B%7D&payload=%5B%5D"), ("payload null", "payload=null"),
                       ("payload huge", "payload=" + "x" * 100_000)):
        out.append(Case(name, body, "application/x-www-form-urlencoded"))
    return out


def _short(value: Any) -> str:
    if value is DELETE:
        return "missing"
    text = repr(value)
    return text if len(text) <= 12 else f"{type(value).__name__}[{len(value)}]"
