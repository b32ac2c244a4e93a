"""The Slack app manifests in deploy/: the HTTP one and the Socket Mode one describe the same app
(scopes, command, events, Home and Messages tabs), differ only where Socket Mode needs them to,
and ask for what the bot uses. Manifest fields: https://api.slack.com/reference/manifests"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from bot.app import BOT_SCOPES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def without_transport(manifest: dict) -> dict:
    """The manifest minus what Socket Mode changes: request URLs, redirect URLs, the switch."""
    out = copy.deepcopy(manifest)
    for command in out["features"]["slash_commands"]:
        command.pop("url", None)
    out["oauth_config"].pop("redirect_urls", None)
    out["settings"]["event_subscriptions"].pop("request_url", None)
    out["settings"]["interactivity"].pop("request_url", None)
    out["settings"].pop("socket_mode_enabled")
    return out


def test_http_and_socket_manifests_agree_except_the_socket_settings():
    http, socket = load("slack-manifest.yml"), load("slack-manifest-socket.yml")
    assert without_transport(http) == without_transport(socket)
    assert http["settings"]["socket_mode_enabled"] is False
    assert socket["settings"]["socket_mode_enabled"] is True


def test_the_socket_manifest_needs_no_public_url():
    text = (DEPLOY / "slack-manifest-socket.yml").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "https://" not in body and "url:" not in body


def test_the_manifest_asks_for_the_scopes_and_events_the_bot_uses():
    http = load("slack-manifest.yml")
    assert http["oauth_config"]["scopes"]["bot"] == BOT_SCOPES
    events = http["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == {"app_home_opened", "message.im"}
    assert "im:history" in BOT_SCOPES  # message.im needs it
    tabs = http["features"]["app_home"]
    assert tabs["home_tab_enabled"] and tabs["messages_tab_enabled"]
