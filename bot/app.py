"""Builds the slack_bolt App: single-workspace (bot token) or multi-workspace OAuth installs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.listener.custom_listener import CustomListener
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from bot.listeners import register_all
from bot.listeners.pool import ListenerPool
from bot.services import Services
from bot.slackapi import web_client

log = logging.getLogger(__name__)

BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "users:read",
    # Run owners that trackers name by email become Slack mentions (users.lookupByEmail, bot/people.py).
    "users:read.email",
    "channels:read",
    "groups:read",
    "files:write",
    # Read back our own recent messages so a sender that died after posting does not post
    # twice (bot/notify/recover.py).
    "channels:history",
    "groups:history",
    "im:history",
]


def build_app(services: Services, listeners: ListenerPool | None = None) -> App:
    settings = services.settings
    common = dict(
        listener_executor=listeners or ListenerPool(),
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
        # Bolt falls back to the SLACK_BOT_TOKEN environment variable when no `token` is given,
        # and warns "`token` will be unused" when a `client` comes with one. So Bolt gets the
        # token alone and builds its client, which then takes our API URL, timeout and retries.
        app = App(token=settings.slack_bot_token, **common)
        use_transport_of(app.client, web_client(settings, settings.slack_bot_token))
    register_all(app, services)
    register_fallbacks(app)
    for listener in app._listeners:  # noqa: SLF001 - Bolt offers no public hook around listeners
        if isinstance(listener, CustomListener):
            listener.ack_function = contained(listener.ack_function)
    return app


def use_transport_of(client: WebClient, ours: WebClient) -> None:
    client.base_url, client.timeout, client.retry_handlers = ours.base_url, ours.timeout, ours.retry_handlers


def contained(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A listener that fails after it has acked must not fail the request.

    Bolt (1.30, thread_runner) answers such a request only after waiting out its 3 s ack timeout,
    and then with a 404 "unhandled request": Slack shows the user an error for a click that
    was handled. Failures after the ack are logged here instead. A failure before the ack still
    reaches Bolt, which answers 500 at once. Bolt keeps injecting arguments by the listener's
    own parameter names (read when it was registered), so the wrapper takes them as kwargs.
    """

    def run(**kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except OSError as exc:
            # Slack unreachable (refused, reset, timed out) after the ack: nothing is wrong with
            # the request and nothing to debug in our code, so one line, not a traceback. An
            # event listener takes no `ack`: Bolt acked the event before running it.
            if not _acked(kwargs.get("ack", _AUTO_ACKED)):
                raise
            log.warning("listener %s could not reach Slack: %s", getattr(fn, "__name__", fn), type(exc).__name__)
            return None
        except Exception:
            if not _acked(kwargs.get("ack")):
                raise
            log.exception("listener %s failed after acknowledging", getattr(fn, "__name__", fn))
            return None

    run.__name__ = getattr(fn, "__name__", "listener")
    return run


_AUTO_ACKED = object()


def _acked(ack: Any) -> bool:
    return ack is _AUTO_ACKED or (isinstance(ack, Ack) and ack.response is not None)


def register_fallbacks(app: App) -> None:
    """Registered last: whatever no listener claims is still acknowledged with 200.

    Slack counts non-2xx answers to events as failures (it retries them and disables the event
    subscription of an app that keeps failing), and shows users an error for an interaction that
    is not acknowledged. Unknown buttons, modals, shortcuts and events are logged and acked.
    """
    anything = re.compile(".*", re.DOTALL)
    app.event(anything)(ignore_event)
    app.action(anything)(ignore)
    app.view(anything)(ignore)
    app.view_closed(anything)(ignore)
    app.shortcut(anything)(ignore)
    app.options(anything)(no_options)
    app.command(anything)(ignore)
    app.middleware(rate_limit_notice)


def ignore(ack: Ack, body: dict[str, Any]) -> None:
    ack()
    log.info("ignored a %s request nothing handles", body.get("type") or "slash command")


def ignore_event() -> None:
    """Bolt acks events itself; an event nothing handles only needs a listener to be 200."""


def no_options(ack: Ack) -> None:
    ack(options=[])


def rate_limit_notice(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
    # https://api.slack.com/apis/events-api#rate_limiting: answered with 200, never retried.
    if body.get("type") == "app_rate_limited":
        log.warning("Slack is rate limiting event deliveries to this app (minute %s)",
                    body.get("minute_rate_limited"))
        return BoltResponse(status=200, body="")
    return next()
