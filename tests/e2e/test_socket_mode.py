"""`readybot socket`: the real Bolt app through slack_sdk's Socket Mode client, against FakeSlack
(apps.connections.open) and a local Socket Mode WebSocket server (tests/fakes/socket_mode_server.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from bot.app import build_app
from bot.sandbox import FakeSlack
from bot.sandbox.signed import VERIFICATION_TOKEN
from bot.sandbox.world import APP_ID, TEAM_DOMAIN, TEAM_ID
from bot.services import build_services
from bot.socket_mode import run_socket_mode
from tests.conftest import make_settings, quick_trackers
from tests.fakes.socket_mode_server import FakeSocketModeServer

APP_TOKEN = "xapp-test"


@pytest.fixture
def socket_server(fake_slack: FakeSlack) -> Iterator[FakeSocketModeServer]:
    with FakeSocketModeServer() as server:
        fake_slack.socket_mode_url = server.url
        yield server


def slash_command(fake: FakeSlack, text: str, user_id: str = "U1", channel_id: str = "C1") -> dict:
    # https://api.slack.com/interactivity/slash-commands: the same fields as the HTTP form body.
    return {
        "token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id, "channel_name": fake.world.channels[channel_id]["name"],
        "user_id": user_id, "user_name": fake.world.users[user_id]["name"], "command": "/ready",
        "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false",
        "response_url": fake.new_response_url(channel_id, user=user_id),
        "trigger_id": f"1.{int(time.time())}.{uuid.uuid4().hex}",
    }


# The transport does not touch the database, so one backend is enough. Stopping takes up to 3 s:
# slack_sdk's built-in client closes only once its receive call (3 s socket timeout) returns.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_socket_mode_answers_slash_commands_in_the_ack(store, fake_slack, socket_server, clock):
    settings = make_settings(fake_slack, store.url, slack_app_token=APP_TOKEN)
    services = build_services(settings, store=store, clock=clock, trackers=quick_trackers)
    app = build_app(services)
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            run_socket_mode(app, settings.slack_app_token, stop=stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=run, name="socket-mode", daemon=True)
    thread.start()
    try:
        assert socket_server.wait_connected(), f"no Socket Mode connection; {failures}"
        opened = fake_slack.last("apps.connections.open")
        auth = opened.headers.get("Authorization") or f"Bearer {opened.params.get('token')}"
        assert auth == f"Bearer {APP_TOKEN}"

        help_id = socket_server.deliver("slash_commands", slash_command(fake_slack, "help"))
        ack = socket_server.wait_ack(help_id)
        assert ack["envelope_id"] == help_id
        assert ack["payload"]["response_type"] == "ephemeral"
        for line in ("/ready connect", "/ready track", "/ready target", "/ready review"):
            assert line in ack["payload"]["text"]

        bad_id = socket_server.deliver("slash_commands", slash_command(fake_slack, "blorp"))
        text = socket_server.wait_ack(bad_id)["payload"]["text"]
        assert "blorp" in text and "/ready" in text
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive(), "run_socket_mode did not return after stop was set"
    assert not failures, failures
    assert socket_server.wait_disconnected(), "the Socket Mode connection was left open"


def test_app_tokens_are_for_apps_connections_open_only(fake_slack):
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(base_url=fake_slack.api_url)
    fake_slack.socket_mode_url = "ws://127.0.0.1:9/link/"
    assert client.apps_connections_open(app_token=APP_TOKEN)["url"] == "ws://127.0.0.1:9/link/"
    with pytest.raises(SlackApiError) as bot_token:
        client.apps_connections_open(app_token="xoxb-test")
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as app_token:
        WebClient(token=APP_TOKEN, base_url=fake_slack.api_url).auth_test()
    assert app_token.value.response["error"] == "not_allowed_token_type"
