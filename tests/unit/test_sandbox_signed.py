"""SlackSender's requests, captured by a local server and checked with slack_sdk's verifier."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.sandbox import FakeSlack, SlackSender

SECRET = "sandbox-signing-secret"


class _Capture(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body.decode()))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _QuietWSGI(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def bot_endpoint():
    """A stand-in for the bot's /slack/events that keeps what it receives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.received = []
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sender(bot_endpoint):
    with FakeSlack() as fake:
        url = f"http://127.0.0.1:{bot_endpoint.server_address[1]}/slack/events"
        yield SlackSender(url, SECRET, fake)


def _verify(headers, body):
    return SignatureVerifier(SECRET).is_valid(
        body=body, timestamp=headers["X-Slack-Request-Timestamp"], signature=headers["X-Slack-Signature"]
    )


def test_signed_command_verifies_and_carries_every_field(sender, bot_endpoint):
    assert sender.command("runs").status_code == 200
    ((headers, body),) = bot_endpoint.received
    assert _verify(headers, body)
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    expected = {"command", "text", "response_url", "trigger_id", "user_id", "user_name", "team_id",
                "team_domain", "channel_id", "channel_name", "api_app_id", "enterprise_id",
                "is_enterprise_install"}
    assert expected <= form.keys()
    assert (form["command"], form["text"], form["user_name"], form["channel_name"]) == (
        "/ready", "runs", "alice", "general")
    assert form["response_url"].startswith(sender.fake.url + "response/")


def test_stale_timestamp_and_wrong_secret_do_not_verify(sender, bot_endpoint):
    sender.command("runs", timestamp=int(time.time()) - 301)
    sender.command("runs", secret="not-the-secret")
    assert [_verify(h, b) for h, b in bot_endpoint.received] == [False, False]


def test_block_action_payload_points_at_the_message(sender, bot_endpoint):
    ts = sender.fake.world.post("C1", {"text": "run failed"})["ts"]
    sender.block_action("ack", "run-7", message_ts=ts)
    ((headers, body),) = bot_endpoint.received
    payload = json.loads(parse_qs(body)["payload"][0])
    assert _verify(headers, body) and payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "ack" and payload["actions"][0]["value"] == "run-7"
    assert payload["container"]["message_ts"] == ts and payload["message"]["text"] == "run failed"


def test_view_submission_uses_the_opened_modal(sender, bot_endpoint):
    sender.fake.world.modals.append({"id": "V42", "type": "modal", "callback_id": "standup",
                                     "private_metadata": "C1", "blocks": []})
    sender.view_submission("standup", {"yesterday": {"text": "trained"}})
    view = json.loads(parse_qs(bot_endpoint.received[0][1])["payload"][0])["view"]
    assert (view["id"], view["private_metadata"]) == ("V42", "C1")
    assert view["state"]["values"]["yesterday"]["text"] == {"type": "plain_text_input", "value": "trained"}


def test_event_envelope_and_retry_headers(sender, bot_endpoint):
    sender.event({"type": "app_home_opened", "user": "U1", "tab": "home"}, event_id="Ev1", retry_num=2)
    ((headers, body),) = bot_endpoint.received
    envelope = json.loads(body)
    assert _verify(headers, body)
    assert (envelope["type"], envelope["event_id"], envelope["team_id"]) == ("event_callback", "Ev1", "T0SANDBOX")
    assert (headers["X-Slack-Retry-Num"], headers["X-Slack-Retry-Reason"]) == ("2", "http_timeout")


def test_bolt_app_accepts_sender_requests_and_talks_to_the_fake():
    """The whole loop with a real Bolt app: signed command in, Web API calls and response_url out."""
    with FakeSlack() as fake:
        # process_before_response: the listener finishes before the HTTP answer, so no waiting.
        app = App(client=WebClient(token="xoxb-test", base_url=fake.api_url), signing_secret=SECRET,
                  process_before_response=True)

        @app.command("/ready")
        def ready(ack, respond, command, client):
            ack()
            client.chat_postMessage(channel=command["channel_id"], text=f"runs for {command['user_name']}")
            respond(text="done")

        @app.action("ack")
        def acknowledge(ack, body, respond):
            ack()
            respond(replace_original=True, text=f"acknowledged by {body['user']['id']}")

        server = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_QuietWSGI)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            sender = SlackSender(f"http://127.0.0.1:{server.server_port}/slack/events", SECRET, fake)
            assert sender.command("runs").status_code == 200
            (message,) = fake.messages("C1")
            assert message["text"] == "runs for alice"
            assert [r["text"] for r in fake.responses()] == ["done"]

            assert sender.block_action("ack", "run-7", message_ts=message["ts"]).status_code == 200
            assert fake.messages("C1")[0]["text"] == "acknowledged by U1"
            assert sender.command("runs", secret="wrong").status_code == 401
        finally:
            server.shutdown()
            server.server_close()
