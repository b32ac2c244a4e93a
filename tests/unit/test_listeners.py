"""Listeners called alone, as plain functions: a fake ack, a body dict, a real database (both
backends through the `services` fixture). The e2e tests drive the same functions through Bolt
with signed requests; these pin what each does with a click, including malformed ones."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.handlers.review_form import REVIEW_MODAL, form_origin
from bot.listeners.commands import on_ready
from bot.listeners.dedupe import request_key
from bot.listeners.home import on_home_opened
from bot.listeners.ids import BodyIds, action_value, body_ids, message_ts, view_metadata
from bot.listeners.review_actions import on_decision
from bot.listeners.standup_actions import on_skip
from bot.listeners.target_actions import on_target_button
from bot.listeners.views import on_connect
from bot.notify.review_messages import CANCEL
from bot.notify.standup_messages import SKIP
from bot.notify.target_alert import ACK_BUTTON, REVIEW_BUTTON
from bot.store.models import Connection, Outbox
from tests.unit.test_target_handlers import CHANNEL, TEAM, _alert, add, trainer  # noqa: F401 - fixture


class Ack:
    """Records what the listener acknowledged with, in order with the client's calls."""

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(("ack", kwargs))


class Client:
    """Stands in for Bolt's WebClient: every API method records its arguments."""

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def __getattr__(self, method: str):  # noqa: ANN204
        return lambda **kwargs: self.calls.append((method, kwargs)) or {"ok": True}


@pytest.fixture
def calls() -> list:
    return []


def click(action_id: str, value: Any, user: str = "U1", channel: str = CHANNEL) -> tuple[dict, dict]:
    """A block_actions body as Slack sends it for a message button (no top-level `channel`
    here: the channel then comes from the container)."""
    action = {"type": "button", "action_id": action_id, "value": value, "action_ts": "1.5"}
    body = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user}, "trigger_id": "13.42.abc",
            "container": {"type": "message", "channel_id": channel, "message_ts": "1.0"}, "actions": [action]}
    return body, action


# body ids


def test_ids_of_each_payload_kind():
    command = {"team_id": TEAM, "channel_id": "C1", "user_id": "U1", "trigger_id": "1.2.x", "text": "help"}
    assert body_ids(command) == BodyIds(TEAM, "C1", "U1", "1.2.x")
    button = {"team": {"id": TEAM}, "user": {"id": "U2"}, "channel": {"id": "C2"},
              "container": {"channel_id": "C9"}, "trigger_id": "t"}
    assert body_ids(button) == BodyIds(TEAM, "C2", "U2", "t")  # the channel wins over the container
    assert body_ids(click(ACK_BUTTON, "1")[0]).channel == CHANNEL
    event = {"team_id": TEAM, "event": {"type": "app_home_opened", "user": "U3", "channel": "D1"}}
    assert body_ids(event) == BodyIds(TEAM, "D1", "U3", None)


@pytest.mark.parametrize("body", [
    None, "payload", [], 7, {},
    {"team": "T1", "user": "U1", "channel": ["C1"], "container": "C1", "trigger_id": 5},
    {"team": {"id": 3}, "user": {"id": None}, "channel": {}, "container": {"channel_id": {"x": 1}}},
    {"team_id": ["T"], "user_id": {"id": "U"}, "channel_id": 1, "event": "app_home_opened"},
    {"user": {"id": ""}, "event": {"user": 5, "channel": None}},
])
def test_malformed_bodies_give_no_ids(body):
    assert body_ids(body) == BodyIds(None, None, None, None)
    assert view_metadata(body) == "" and action_value(body) == "" and message_ts(body) is None


def test_malformed_view_and_action_give_empty_strings():
    assert view_metadata({"private_metadata": {"channel": "C1"}}) == ""
    assert view_metadata({"private_metadata": "C1"}) == "C1"
    assert action_value({"value": 12}) == "" and action_value({"value": "12"}) == "12"
    assert message_ts({"container": {"message_ts": 1.0}}) is None


@pytest.mark.parametrize("body", [
    {"type": "block_actions", "user": "U1", "actions": [{"action_ts": "1.5"}]},
    {"type": "block_actions", "actions": ["x", None, {"action_ts": "1.5"}]},
    {"type": "block_actions", "actions": "1.5"},
])
def test_dedupe_key_of_a_malformed_click_never_raises(body):
    key = request_key(body)
    assert key is None or key == "action:None:1.5"


# listeners


def test_target_button_with_a_bad_value_is_acked_and_changes_nothing(services, calls):
    body, action = click(ACK_BUTTON, "not-a-number")
    on_target_button(ack=Ack(calls), body=body, action=action, client=Client(calls), services=services)
    assert calls == [("ack", {})]


def test_target_button_on_a_removed_alert_tells_the_clicker(services, calls):
    body, action = click(REVIEW_BUTTON, "999")
    on_target_button(ack=Ack(calls), body=body, action=action, client=Client(calls), services=services)
    assert [name for name, _ in calls] == ["ack", "chat_postEphemeral"]  # no modal for a removed target
    told = calls[1][1]
    assert (told["channel"], told["user"]) == (CHANNEL, "U1") and "removed" in told["text"]


def test_review_button_opens_the_form_with_the_alerts_run(services, trainer, calls):  # noqa: F811
    add(services)
    alert_id = _alert(services, target_id=1, value=0.95, step=1)
    body, action = click(REVIEW_BUTTON, str(alert_id))
    on_target_button(ack=Ack(calls), body=body, action=action, client=Client(calls), services=services)
    assert [name for name, _ in calls] == ["ack", "views_open"]
    opened = calls[1][1]
    assert opened["trigger_id"] == "13.42.abc" and opened["view"]["callback_id"] == REVIEW_MODAL
    assert form_origin(opened["view"]["private_metadata"]) == (CHANNEL, alert_id)
    assert "trainer:r1" in str(opened["view"]["blocks"])


def test_ack_button_acknowledges_the_alert(services, trainer, calls):  # noqa: F811
    add(services)
    alert_id = _alert(services, target_id=1, value=0.95, step=1)
    body, action = click(ACK_BUTTON, str(alert_id), user="U2")
    on_target_button(ack=Ack(calls), body=body, action=action, client=Client(calls), services=services)
    assert calls == [("ack", {})]  # the alert message is edited through the outbox, not here
    with services.store.tx() as s:
        message = s.scalars(select(Outbox).where(Outbox.dedupe_key == f"target-alert:{alert_id}")).one()
        assert [(e["action"], e["user"]) for e in message.payload["log"]] == [("ack", "U2")]


def test_decision_on_a_review_elsewhere_is_refused_after_the_ack(services, calls):
    body, action = click(CANCEL, "42")
    on_decision(ack=Ack(calls), body=body, action=action, client=Client(calls), services=services)
    assert [name for name, _ in calls] == ["ack", "chat_postEphemeral"]
    assert "There is no review #42 in this channel" in calls[1][1]["text"]


@pytest.mark.parametrize("value", ["", "12a", None])
def test_decision_with_a_malformed_value_only_acks(services, calls, value):
    body, action = click(CANCEL, value)
    on_decision(ack=Ack(calls), body=body, action=action, client=Client(calls), services=services)
    assert calls == [("ack", {})]


def test_skip_of_someone_elses_prompt_is_answered_in_the_dm(services, calls):
    body, action = click(SKIP, "7", channel="D1")
    body.pop("container")  # a click from a modal: no message to replace
    on_skip(ack=Ack(calls), body=body, action=action, client=Client(calls), services=services)
    assert [name for name, _ in calls] == ["ack", "chat_postMessage"]
    assert calls[1][1]["channel"] == "U1" and "not yours" in calls[1][1]["text"]


def test_connect_form_connects_and_tells_the_user_alone(services, calls):
    view = {"callback_id": "connect_modal", "private_metadata": "C7", "state": {"values": {
        "kind": {"value": {"selected_option": {"value": "push"}}},
        "name": {"value": {"value": "trainer"}},
    }}}
    body = {"type": "view_submission", "team": {"id": TEAM}, "user": {"id": "U4"}, "view": view}
    on_connect(ack=Ack(calls), body=body, view=view, client=Client(calls), services=services)
    assert [name for name, _ in calls] == ["ack", "chat_postEphemeral"] and calls[0][1] == {}
    told = calls[1][1]
    assert (told["channel"], told["user"]) == ("C7", "U4") and "Push connection *trainer* created" in told["text"]
    with services.store.tx() as s:
        assert s.scalars(select(Connection.team_id)).all() == [TEAM]


def test_connect_form_without_a_tracker_shows_the_error_in_the_form(services, calls):
    view = {"private_metadata": "C7", "state": {"values": {}}}
    on_connect(ack=Ack(calls), body={}, view=view, client=Client(calls), services=services)
    assert len(calls) == 1 and calls[0][1]["response_action"] == "errors"


def test_slash_command_with_missing_fields_still_answers(services, calls):
    respond = Client(calls).respond
    on_ready(ack=Ack(calls), command={"text": "help"}, respond=respond, client=Client(calls), services=services)
    assert len(calls) == 1 and calls[0][0] == "ack" and "/ready" in calls[0][1]["text"]


def test_home_tab_needs_a_user(services, calls):
    on_home_opened(body={"team_id": TEAM}, event={"type": "app_home_opened"}, client=Client(calls),
                   services=services)
    assert calls == []
    on_home_opened(body={"team_id": TEAM, "event": {"user": "U1"}}, event={"user": "U1"}, client=Client(calls),
                   services=services)
    assert calls[0][0] == "users_conversations" and calls[0][1]["user"] == "U1"  # the viewer's channels
    assert calls[-1][0] == "views_publish" and calls[-1][1]["user_id"] == "U1"
    assert calls[-1][1]["view"]["type"] == "home"
