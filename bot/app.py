"""Builds the slack_bolt App: single-workspace (bot token) or multi-workspace OAuth installs."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from bot.listeners import register_all
from bot.services import Services
from bot.slackapi import web_client

log = logging.getLogger(__name__)

BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "users:read",
    "channels:read",
    "groups:read",
    "files:write",
    # Read back our own recent messages so a sender that died after posting does not post
    # twice (bot/notify/recover.py).
    "channels:history",
    "groups:history",
    "im:history",
]


def build_app(services: Services) -> App:
    settings = services.settings
    common = dict(
        signing_secret=settings.slack_signing_secret or "",
        logger=logging.getLogger("slack_bolt"),
        # Verified at start-up by `readybot serve` through auth.test on our own client.
        token_verification_enabled=False,
        url_verification_enabled=True,
    )
    if settings.oauth_mode:
        app = App(
            client=web_client(settings),
            oauth_settings=OAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                scopes=BOT_SCOPES,
                installation_store=SQLAlchemyInstallationStore(
                    client_id=settings.slack_client_id, engine=services.store.engine
                ),
                state_store=SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=services.store.engine),
            ),
            **common,
        )
    else:
        app = App(client=web_client(settings, settings.slack_bot_token), **common)
    register_all(app, services)
    return app
