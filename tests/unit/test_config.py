"""Settings fail loudly, by variable name, and never echo a secret."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, default_web_workers, load, require_slack


def test_defaults_match_the_readme():
    s = load({}, dotenv=None)
    assert s.database_url == "sqlite:///readybot.db"
    assert s.port == 3000 and s.poll_seconds == 60
    assert s.web_workers == default_web_workers() and 3 <= s.web_workers <= 9  # (2 x cores) + 1, capped
    assert load({"READYBOT_WEB_WORKERS": "4"}, dotenv=None).web_workers == 4
    assert s.slack_api_url == "https://slack.com/api/"
    assert not s.oauth_mode


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"READYBOT_PORT": "abc"}, "READYBOT_PORT"),
        ({"READYBOT_PORT": "70000"}, "READYBOT_PORT"),
        ({"READYBOT_POLL_SECONDS": "0"}, "READYBOT_POLL_SECONDS"),
        ({"READYBOT_WEB_WORKERS": "0"}, "READYBOT_WEB_WORKERS"),
        ({"READYBOT_WEB_WORKERS": "many"}, "READYBOT_WEB_WORKERS"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        ({"READYBOT_DATABASE_URL": "readybot.db"}, "READYBOT_DATABASE_URL"),
        ({"SLACK_CLIENT_ID": "123"}, "SLACK_CLIENT_SECRET"),
        ({"READYBOT_LOG_LEVEL": "LOUD"}, "READYBOT_LOG_LEVEL"),
    ],
)
def test_malformed_values_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        load(env, dotenv=None)


def test_secret_from_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("xoxb-from-file\n")
    assert load({"SLACK_BOT_TOKEN_FILE": str(path)}, dotenv=None).slack_bot_token == "xoxb-from-file"


def test_secret_and_file_together_is_an_error(tmp_path):
    path = tmp_path / "token"
    path.write_text("x")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE"):
        load({"SLACK_BOT_TOKEN": "y", "SLACK_BOT_TOKEN_FILE": str(path)}, dotenv=None)


def test_missing_secret_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="READYBOT_SECRET_KEY_FILE"):
        load({"READYBOT_SECRET_KEY_FILE": str(tmp_path / "nope")}, dotenv=None)


def test_dotenv_is_read_and_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("READYBOT_PORT=4000\nREADYBOT_POLL_SECONDS=30\n")
    s = load({"READYBOT_PORT": "5000"}, dotenv=dotenv)
    assert s.port == 5000 and s.poll_seconds == 30


def test_secrets_are_not_in_repr():
    s = load({"SLACK_BOT_TOKEN": "xoxb-very-secret", "READYBOT_SECRET_KEY": "k3y-secret"}, dotenv=None)
    assert "very-secret" not in repr(s) and "k3y-secret" not in repr(s)


def test_serve_requires_slack_credentials():
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        require_slack(load({}, dotenv=None))
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        require_slack(load({"SLACK_SIGNING_SECRET": "s"}, dotenv=None))


def test_cli_reports_config_errors_without_traceback(capsys, monkeypatch):
    from bot.cli import main

    monkeypatch.setenv("READYBOT_PORT", "nope")
    monkeypatch.chdir("/")
    assert main(["db", "upgrade"]) == 2
    assert "READYBOT_PORT" in capsys.readouterr().err


def test_sqlite_in_a_missing_directory_is_named(tmp_path):
    with pytest.raises(ConfigError, match="READYBOT_DATABASE_URL.*does not exist"):
        load({"READYBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'nope' / 'readybot.db'}"}, dotenv=None)
    assert load({"READYBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'readybot.db'}"}, dotenv=None)
    assert load({"READYBOT_DATABASE_URL": "sqlite://"}, dotenv=None)


def test_cli_reports_an_unreachable_database_by_name_without_its_password(capsys, monkeypatch, tmp_path):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("READYBOT_DATABASE_URL", "postgresql+psycopg://rb:hunter2@127.0.0.1:1/rb?connect_timeout=2")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "READYBOT_DATABASE_URL" in err and "hunter2" not in err and "Traceback" not in err


def test_slack_api_url_gets_its_trailing_slash():
    assert load({"SLACK_API_URL": "http://127.0.0.1:9/api"}, dotenv=None).slack_api_url == "http://127.0.0.1:9/api/"


def test_plain_postgres_urls_use_the_shipped_driver():
    for given in ("postgres://u@db/readybot", "postgresql://u@db/readybot"):
        assert load({"READYBOT_DATABASE_URL": given}, dotenv=None).database_url == "postgresql+psycopg://u@db/readybot"


def test_outbound_allow_list_and_tensorboard_roots():
    s = load({"READYBOT_TRACKER_ALLOW": "10.0.0.0/8, mlflow.internal", "READYBOT_TENSORBOARD_ROOTS": "/data/tb:/mnt/logs,/srv"},
             dotenv=None)
    assert s.tracker_allow == ("10.0.0.0/8", "mlflow.internal")
    assert s.tensorboard_roots == ("/data/tb", "/mnt/logs", "/srv")
    assert load({}, dotenv=None).tracker_allow == () and load({}, dotenv=None).tensorboard_roots == ()
    with pytest.raises(ConfigError, match="READYBOT_TRACKER_ALLOW"):
        load({"READYBOT_TRACKER_ALLOW": "10.0.0.0/33x, bad host!"}, dotenv=None)
    with pytest.raises(ConfigError, match="READYBOT_TENSORBOARD_ROOTS"):
        load({"READYBOT_TENSORBOARD_ROOTS": "relative/logs"}, dotenv=None)
