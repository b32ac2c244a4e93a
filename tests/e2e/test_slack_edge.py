"""The Slack edge under inputs Slack may send (or an attacker may): anything unsigned is a 401
before it is parsed, anything malformed a 4xx (never a 500), and every request Slack sends is
acknowledged with 200 even when no listener wants it or a listener fails after acking."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.store.models import Connection


def _connections(bot) -> int:
    with bot.services.store.tx() as s:
        return s.scalar(select(func.count()).select_from(Connection))


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9"])
def test_unparseable_signature_timestamp_is_401(bot, timestamp):
    resp = bot.slack.command("connect push as evil", timestamp=timestamp)
    assert resp.status_code == 401
    assert _connections(bot) == 0


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
    ("payload=%7Bnope", "application/x-www-form-urlencoded"),
    ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
])
def test_malformed_bodies_are_4xx_not_500(bot, body, content_type):
    assert bot.slack.post(body, content_type).status_code == 400
    unsigned = bot.slack.post(body, content_type, secret="not-the-secret")
    assert unsigned.status_code == 401


def test_command_text_mentioning_payload_is_handled(bot):
    # slack_bolt's parser reads any form body containing "payload" as an interaction.
    resp = bot.command("track nope:payload-v2")
    assert resp.status_code == 200
    assert "No connection named `nope`" in resp.json()["text"]


def test_unhandled_slack_requests_are_acknowledged(bot):
    team = {"id": "T0SANDBOX"}
    user = {"id": "U1"}
    assert bot.slack.event({"type": "reaction_added", "user": "U1"}).status_code == 200
    assert bot.slack.event({"type": "reaction_added", "user": "U1"}, retry_num=1).status_code == 200
    rate_limited = {"type": "app_rate_limited", "team_id": "T0SANDBOX", "minute_rate_limited": 1,
                    "api_app_id": "A0SANDBOX", "token": "t"}
    assert bot.slack.post(json.dumps(rate_limited), "application/json").status_code == 200
    assert bot.slack.block_action("some_old_button", "1").status_code == 200
    assert bot.slack.view_submission("some_old_modal", {}).status_code == 200
    for kind in ("shortcut", "message_action"):
        payload = {"type": kind, "callback_id": "x", "trigger_id": "1.2.3", "user": user, "team": team,
                   "channel": {"id": "C1"}, "message": {"ts": "1.0"}}
        assert bot.slack.action(payload).status_code == 200
    closed = {"type": "view_closed", "view": {"callback_id": "x", "id": "V1"}, "user": user, "team": team}
    assert bot.slack.action(closed).status_code == 200


def test_listener_failing_after_its_ack_still_answers_200_at_once(bot):
    """A review button whose review is unknown acks, then tells the user ephemerally; if that
    post fails, Bolt used to wait out its 3 s ack timeout and answer 404."""
    bot.fake.fail_next("chat.postEphemeral", "not_in_channel")
    started = time.monotonic()
    resp = bot.slack.block_action("review_postpone", "424242")
    assert resp.status_code == 200
    assert time.monotonic() - started < 2.5
    bot.fake.wait_for(lambda: bot.fake.calls("chat.postEphemeral"))


def test_button_with_an_out_of_range_id_is_acknowledged(bot):
    started = time.monotonic()
    assert bot.slack.block_action("target_ack", "9" * 30).status_code == 200
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("action_id", ["review_cancel", "target_ack", "standup_skip"])
def test_click_with_wrong_typed_ids_is_acknowledged(bot, action_id):
    # Signed, and parseable by Bolt, but user, team, channel and container are not the objects Slack sends.
    payload = {"type": "block_actions", "user": "U1", "team": "T0SANDBOX", "channel": "C1", "container": "C1",
               "trigger_id": 7, "actions": [{"type": "button", "action_id": action_id, "value": "1",
                                             "action_ts": f"{time.time():.6f}"}]}
    started = time.monotonic()
    # Refused at the edge as malformed (bot/listeners/shapes.py): a 400 at once, never a 500.
    assert bot.slack.action(payload).status_code == 400
    assert time.monotonic() - started < 2.5


def test_enterprise_grid_command_is_handled(bot):
    form = {"token": "t", "team_id": "T0SANDBOX", "team_domain": "sandbox", "enterprise_id": "E123",
            "enterprise_name": "Grid", "channel_id": "C1", "channel_name": "general", "user_id": "U1",
            "user_name": "u", "command": "/ready", "text": "connect push as grid", "api_app_id": "A0SANDBOX",
            "is_enterprise_install": "true", "response_url": bot.fake.new_response_url("C1", user="U1"),
            "trigger_id": "1.2.3"}
    resp = bot.slack.post(urlencode(form), "application/x-www-form-urlencoded")
    assert resp.status_code == 200 and "created" in resp.json()["text"]
    assert _connections(bot) == 1
