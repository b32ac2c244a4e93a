"""Settings: read once from the environment (and an optional .env), failing loudly by name.

Every secret may also come from a file named by `<NAME>_FILE` (Docker/Kubernetes secrets).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_HOST = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///readybot.db"
    port: int = 3000
    # HTTP worker processes of `readybot serve --role web` (gunicorn); see default_web_workers.
    web_workers: int = 1
    poll_seconds: int = 60
    secret_key: str | None = field(default=None, repr=False)
    stall_minutes: int = 30
    # How long `/ready connect` waits for a tracker to answer before it says so (a firewalled
    # address accepts and never answers, and the HTTP client's retries would wait much longer).
    tracker_check_seconds: float = 15
    public_url: str = ""
    log_level: str = "INFO"
    google_credentials_file: str = ""  # service-account JSON for Google Calendar sync (optional)
    google_calendar_id: str = ""
    tracker_allow: tuple[str, ...] = ()  # CIDRs / host names trackers may reach in multi-workspace mode
    tensorboard_roots: tuple[str, ...] = ()  # folders TensorBoard log roots must be under

    @property
    def oauth_mode(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)


SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_SECRET",
    "READYBOT_SECRET_KEY",
    "READYBOT_DATABASE_URL",  # may carry a password
)


def load(environ: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env") -> Settings:
    """Build Settings from `environ` (default os.environ) layered over a .env file if present."""
    env = _merged_env(environ, dotenv)
    api_url = _str(env, "SLACK_API_URL", "https://slack.com/api/")
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError("SLACK_API_URL must be an http(s) URL")
    db_url = _str(env, "READYBOT_DATABASE_URL", "sqlite:///readybot.db")
    db_url = _with_driver(db_url)
    if "://" not in db_url:
        raise ConfigError("READYBOT_DATABASE_URL must be an SQLAlchemy URL such as sqlite:///readybot.db")
    _check_database_url(db_url)
    client_id = _str(env, "SLACK_CLIENT_ID", "") or None
    client_secret = _secret(env, "SLACK_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        raise ConfigError("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET must be set together (OAuth install mode)")
    return Settings(
        slack_bot_token=_secret(env, "SLACK_BOT_TOKEN"),
        slack_signing_secret=_secret(env, "SLACK_SIGNING_SECRET"),
        slack_app_token=_secret(env, "SLACK_APP_TOKEN"),
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
        database_url=db_url,
        port=_int(env, "READYBOT_PORT", 3000, 0, 65535),
        web_workers=_int(env, "READYBOT_WEB_WORKERS", default_web_workers(), 1, 64),
        poll_seconds=_int(env, "READYBOT_POLL_SECONDS", 60, 1, 86400),
        secret_key=_secret(env, "READYBOT_SECRET_KEY"),
        stall_minutes=_int(env, "READYBOT_STALL_MINUTES", 30, 1, 10080),
        tracker_check_seconds=_int(env, "READYBOT_TRACKER_CHECK_SECONDS", 15, 1, 300),
        public_url=_str(env, "READYBOT_PUBLIC_URL", "").rstrip("/"),
        log_level=_choice(env, "READYBOT_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        **_google_calendar(env),
        tracker_allow=_tracker_allow(env),
        tensorboard_roots=_tensorboard_roots(env),
    )


def default_web_workers() -> int:
    """gunicorn's suggested starting point, (2 x cores) + 1
    (https://docs.gunicorn.org/en/stable/design.html#how-many-workers), counting the cores this
    process may run on (a container's CPU set), capped so a large host does not open dozens of
    database pools."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2 * cores + 1, 9)


def _tracker_allow(env: Mapping[str, str]) -> tuple[str, ...]:
    entries = tuple(e.strip() for e in env.get("READYBOT_TRACKER_ALLOW", "").split(",") if e.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if not _HOST.fullmatch(entry):
                raise ConfigError("READYBOT_TRACKER_ALLOW must list CIDRs or host names, separated by commas") from None
    return entries


def _tensorboard_roots(env: Mapping[str, str]) -> tuple[str, ...]:
    roots = tuple(r.strip() for r in re.split(r"[:,]", env.get("READYBOT_TENSORBOARD_ROOTS", "")) if r.strip())
    if any(not r.startswith("/") for r in roots):
        raise ConfigError("READYBOT_TENSORBOARD_ROOTS must list absolute folders, separated by colons or commas")
    return roots


def _google_calendar(env: Mapping[str, str]) -> dict[str, str]:
    """Calendar sync is optional, but half a configuration is a mistake worth stopping for."""
    path = _str(env, "READYBOT_GOOGLE_CREDENTIALS_FILE", "")
    calendar_id = _str(env, "READYBOT_GOOGLE_CALENDAR_ID", "")
    if bool(path) != bool(calendar_id):
        raise ConfigError("READYBOT_GOOGLE_CREDENTIALS_FILE and READYBOT_GOOGLE_CALENDAR_ID must be set together")
    if path and not Path(path).is_file():
        raise ConfigError("READYBOT_GOOGLE_CREDENTIALS_FILE does not name a readable file")
    return {"google_credentials_file": path, "google_calendar_id": calendar_id}


def _check_database_url(url: str) -> None:
    """A URL SQLAlchemy can read; for SQLite, a file whose directory exists (SQLite creates the
    file, not the directory, and otherwise fails later with "unable to open database file")."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError("READYBOT_DATABASE_URL is not a valid SQLAlchemy URL") from None
    path = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or path in ("", ":memory:") or path.startswith("file:"):
        return
    folder = Path(path).expanduser().absolute().parent
    if not folder.is_dir():
        raise ConfigError(f"READYBOT_DATABASE_URL: the directory {folder} does not exist")


def require_slack(settings: Settings) -> None:
    """Checks for modes that talk to real Slack requests (serve, socket)."""
    if not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is required to verify requests from Slack")
    if not settings.oauth_mode and not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is required (or SLACK_CLIENT_ID/SLACK_CLIENT_SECRET for OAuth installs)")


def require_secret_key(settings: Settings, command: str) -> None:
    """Production modes keep tracker keys people paste into Slack: without a key of their own,
    those would be sealed with the demo key that ships in the source. Only `demo` may do that."""
    if not settings.secret_key:
        raise ConfigError(
            f"READYBOT_SECRET_KEY is required for `readybot {command}`: it encrypts the tracker keys users "
            "connect. Set it (or READYBOT_SECRET_KEY_FILE) to a long random passphrase, e.g. the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`, and keep it: changing it makes "
            "stored keys unreadable. Only `readybot demo` runs without it."
        )


def _merged_env(environ: Mapping[str, str] | None, dotenv: str | Path | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if dotenv and Path(dotenv).is_file():
        from dotenv import dotenv_values

        env.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    return env


def _with_driver(url: str) -> str:
    """postgres:// and postgresql:// (as Heroku, RDS and docker-compose write them) mean psycopg 3,
    the driver we ship; SQLAlchemy alone would look for psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def _secret(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    path = env.get(f"{name}_FILE", "").strip()
    if value and path:
        raise ConfigError(f"set {name} or {name}_FILE, not both")
    if path:
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE cannot be read ({exc.strerror})") from None
        if not value:
            raise ConfigError(f"{name}_FILE names an empty file")
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _str(env, name, default).upper()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}")
    return value
