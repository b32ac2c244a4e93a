"""Slack Web API clients: every one honours SLACK_API_URL and retries 429s per Retry-After.

Background jobs post outside any listener, so they find the bot token themselves:
the configured SLACK_BOT_TOKEN in single-workspace mode, the installation store in
OAuth mode (token rotation happens there too).
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.config import Settings

TIMEOUT = 10  # seconds, every Slack call


def web_client(settings: Settings, token: str | None = None, *, rate_limit_retries: int = 2,
               connection_retries: int = 2) -> WebClient:
    handlers = [ConnectionErrorRetryHandler(max_retry_count=connection_retries)] if connection_retries else []
    if rate_limit_retries:
        handlers.append(RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries))
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=TIMEOUT,
        retry_handlers=handlers,
    )


class SlackClients:
    """Hands out a WebClient per workspace for code that runs outside Bolt listeners."""

    def __init__(self, settings: Settings, installation_store: InstallationStore | None = None):
        self.settings = settings
        self.installation_store = installation_store

    def for_team(self, team_id: str | None, *, rate_limit_retries: int = 2, connection_retries: int = 2) -> WebClient:
        return web_client(self.settings, self.token_for(team_id), rate_limit_retries=rate_limit_retries,
                          connection_retries=connection_retries)

    def token_for(self, team_id: str | None) -> str | None:
        if not self.settings.oauth_mode or self.installation_store is None:
            return self.settings.slack_bot_token
        bot = self.installation_store.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None:
            return None
        if bot.bot_refresh_token:
            bot = self._rotated(bot)
        return bot.bot_token

    def _rotated(self, bot):  # noqa: ANN001, ANN202 - slack_sdk's Bot model
        """With token rotation on, Bolt refreshes tokens only while authorizing requests; jobs
        that post on their own must refresh them too (bolt-python issues 1324, 1332)."""
        rotator = TokenRotator(
            client_id=self.settings.slack_client_id,
            client_secret=self.settings.slack_client_secret,
            client=web_client(self.settings),
        )
        fresh = rotator.perform_bot_token_rotation(bot=bot, minutes_before_expiration=120)
        if fresh is None:
            return bot
        self.installation_store.save_bot(fresh)
        return fresh
