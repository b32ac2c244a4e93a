"""The `readybot` command line as an operator meets it: its version, each command's own help,
and a start-up log without warnings that mean nothing to them."""

from __future__ import annotations

import logging
from importlib.metadata import version

import pytest

from bot.cli import main


def test_version_is_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"readybot {version('readybot')}"


def test_db_upgrade_help_is_its_own_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["db", "upgrade", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: readybot db upgrade")
    assert "migrations" in out


def test_db_without_an_action_says_which_there_are(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["db"])
    assert exit_.value.code == 2
    assert "upgrade" in capsys.readouterr().err


@pytest.mark.parametrize("oauth", [False, True], ids=["bot-token", "oauth"])
def test_building_the_bolt_app_logs_no_warning(caplog, monkeypatch, tmp_path, oauth):
    # Bolt reads SLACK_BOT_TOKEN from the environment itself, where `readybot serve` finds it too.
    from bot.app import build_app
    from bot.config import Settings
    from bot.services import build_services
    from bot.store.migrate import upgrade

    if not oauth:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    extra = {"slack_client_id": "1.2", "slack_client_secret": "shh"} if oauth else {"slack_bot_token": "xoxb-from-env"}
    settings = Settings(slack_signing_secret="s", slack_api_url="http://127.0.0.1:9/api/",
                        database_url=f"sqlite:///{tmp_path / 'rb.db'}", secret_key="k", **extra)
    services = build_services(settings)
    upgrade(services.store.engine)
    caplog.set_level(logging.DEBUG)
    app = build_app(services)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
    # The app still talks to the configured Slack API with the configured token.
    assert app.client.base_url == "http://127.0.0.1:9/api/"
    assert app.client.token == (None if oauth else "xoxb-from-env")
    services.store.dispose()
