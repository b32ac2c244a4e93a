"""/ready connect: text form and private modal; keys are stored encrypted and never shown."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.store.models import Connection

pytestmark = pytest.mark.mlflow
KEY = "alice:s3cr3t-Passw0rd"


def stored(bot) -> Connection:
    with bot.services.store.tx() as s:
        return s.scalar(select(Connection))


def test_text_form_keeps_the_key_secret(bot, mlflow_server, caplog):
    caplog.set_level(logging.DEBUG)
    reply = bot.reply(f"connect mlflow {mlflow_server} as prod key={KEY}")
    assert "Connected *prod*" in reply and "s3cr3t" not in reply
    conn = stored(bot)
    assert conn.secret_sealed and "s3cr3t" not in conn.secret_sealed
    assert bot.services.box.open(conn.secret_sealed) == KEY
    assert "s3cr3t" not in caplog.text


def test_modal_connects_without_the_key_in_the_channel(bot, mlflow_server, caplog):
    caplog.set_level(logging.DEBUG)
    assert bot.command("connect").status_code == 200
    assert bot.fake.wait_for(bot.fake.modals)
    values = {
        "kind": {"value": {"type": "static_select", "selected_option": {"value": "mlflow"}}},
        "url": {"value": mlflow_server},
        "name": {"value": "team-mlflow"},
        "key": {"value": KEY},
    }
    resp = bot.slack.view_submission("connect_modal", values, private_metadata="C1")
    assert resp.status_code == 200 and not resp.text.strip()  # closed: accepted
    assert bot.fake.wait_for(lambda: bot.fake.ephemerals("C1"))
    confirmation = bot.fake.ephemerals("C1")[-1]["text"]
    assert "team-mlflow" in confirmation and "s3cr3t" not in confirmation
    assert bot.fake.messages("C1") == []  # nothing public
    assert bot.services.box.open(stored(bot).secret_sealed) == KEY
    assert "s3cr3t" not in caplog.text


def test_modal_with_a_bad_url_stays_open_with_an_error(bot):
    bot.command("connect")
    assert bot.fake.wait_for(bot.fake.modals)
    values = {"kind": {"value": {"type": "static_select", "selected_option": {"value": "mlflow"}}},
              "url": {"value": "not a url"}}
    resp = bot.slack.view_submission("connect_modal", values, private_metadata="C1")
    body = resp.json()
    assert body["response_action"] == "errors" and body["errors"]
    assert stored(bot) is None


def test_a_json_api_that_is_not_mlflow_is_not_connected(bot):
    # The Slack stand-in answers 200 with JSON ({"ok": false, ...}) to any path.
    reply = bot.reply(f"connect mlflow {bot.fake.api_url} as notmlflow")
    assert "Could not reach" in reply and "no MLflow tracking API" in reply and "Nothing was saved" in reply
    assert stored(bot) is None


@pytest.mark.parametrize("kind", ["mlflow", "wandb", "comet", "tensorboard"])
def test_credentials_in_the_url_are_refused_and_never_echoed(bot, mlflow_server, caplog, kind):
    # http://user:password@host would be stored and shown in plain text: refused, pointing at key=.
    caplog.set_level(logging.DEBUG)
    host = mlflow_server.removeprefix("http://")
    url = "file://alice:s3cr3t-Passw0rd@localhost/tmp" if kind == "tensorboard" else f"http://alice:s3cr3t-Passw0rd@{host}"
    reply = bot.reply(f"connect {kind} {url} as leaky")
    assert "key=" in reply and "s3cr3t" not in reply
    assert stored(bot) is None
    assert "s3cr3t" not in caplog.text


def test_credentials_in_the_url_are_refused_in_the_form_too(bot, mlflow_server, caplog):
    caplog.set_level(logging.DEBUG)
    bot.command("connect")
    assert bot.fake.wait_for(bot.fake.modals)
    leaky = mlflow_server.replace("http://", "http://alice:s3cr3t-Passw0rd@")
    values = {"kind": {"value": {"type": "static_select", "selected_option": {"value": "mlflow"}}},
              "url": {"value": leaky}}
    resp = bot.slack.view_submission("connect_modal", values, private_metadata="C1")
    body = resp.json()
    assert body["response_action"] == "errors" and "key" in body["errors"]["url"]
    assert "s3cr3t" not in resp.text
    assert stored(bot) is None
    assert "s3cr3t" not in caplog.text


@pytest.fixture
def loopback_only(monkeypatch) -> list:
    from tests.loopback_guard import loopback_only as guard

    return guard(monkeypatch)


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://2852039166/", "http://0xa9fea9fe/"])
def test_connect_refuses_metadata_addresses_and_saves_nothing(bot, loopback_only, url):
    reply = bot.reply(f"connect mlflow {url} as meta")
    assert "refused to contact" in reply and "metadata" in reply and "Nothing was saved" in reply
    assert stored(bot) is None and loopback_only == []


@pytest.mark.parametrize("root", ["/etc", "/proc/self", "file:///etc"])
def test_connect_refuses_system_folders_as_tensorboard_roots(bot, root):
    reply = bot.reply(f"connect tensorboard {root} as tb")
    assert "system folder" in reply and "Nothing was saved" in reply
    assert stored(bot) is None


def test_a_multi_workspace_install_refuses_loopback_unless_allowed(store, fake_slack, mlflow_server):
    from bot.services import build_services
    from integrations.base import ConnectionInfo, TrackerError
    from tests.conftest import make_settings

    info = ConnectionInfo(kind="mlflow", name="m", url=mlflow_server)
    oauth = {"slack_client_id": "1.2", "slack_client_secret": "client-secret"}
    services = build_services(make_settings(fake_slack, store.url, **oauth), store=store)
    with pytest.raises(TrackerError, match="READYBOT_TRACKER_ALLOW"):
        services.trackers(info).check()
    allowed = make_settings(fake_slack, store.url, **oauth, tracker_allow=("127.0.0.1/32",))
    build_services(allowed, store=store).trackers(info).check()
