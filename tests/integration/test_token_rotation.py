"""OAuth installs with token rotation: background jobs refresh an expiring bot token themselves."""

from __future__ import annotations

import time

from slack_sdk.oauth.installation_store import Bot

from bot.notify import outbox
from bot.notify.dispatch import Dispatcher
from bot.services import build_services
from tests.conftest import make_settings


def rotating_services(store, fake_slack, clock):  # noqa: ANN001, ANN201
    settings = make_settings(fake_slack, store.url, slack_bot_token=None,
                             slack_client_id="111.222", slack_client_secret="shh")
    services = build_services(settings, store=store, clock=clock)
    fake_slack.refresh_tokens.add("xoxe-1-original")
    services.clients.installation_store.save_bot(Bot(
        app_id="A0SANDBOX", team_id="T0SANDBOX", bot_token="xoxe.xoxb-expired", bot_id="B0BOT",
        bot_user_id="U0BOT", bot_scopes=["chat:write"], bot_refresh_token="xoxe-1-original",
        bot_token_expires_at=int(time.time()) - 60, installed_at=time.time() - 86400,
    ))
    return services


def queue_failure(store, clock, key: str = "k") -> None:  # noqa: ANN001
    with store.tx() as s:
        outbox.enqueue(s, key=key, team_id="T0SANDBOX", channel_id="C1", template="run_event", now=clock(),
                       payload={"connection": "m", "event": "failed",
                                "run": {"id": 1, "ref": "r", "name": "r", "experiment": None, "url": None,
                                        "owner": None, "state": "failed", "step": None, "total_steps": None,
                                        "metrics": {}, "duration_s": None, "heartbeat_at": None}})


def test_a_job_posting_with_an_expired_token_rotates_it_first(store, fake_slack, clock):
    services = rotating_services(store, fake_slack, clock)
    queue_failure(store, clock)
    assert Dispatcher(store, services.clients, clock).drain() == 1
    post = fake_slack.last("chat.postMessage")
    assert post.headers.get("Authorization", "").startswith("Bearer xoxe.xoxb-rotated")
    saved = services.clients.installation_store.find_bot(enterprise_id=None, team_id="T0SANDBOX")
    assert saved.bot_token.startswith("xoxe.xoxb-rotated") and saved.bot_refresh_token != "xoxe-1-original"


def test_a_later_batch_of_the_same_dispatcher_uses_the_token_rotated_since(store, fake_slack, clock):
    """The delivery thread lives as long as the process: a client kept from an earlier batch
    would post with a token that has expired since."""
    services = rotating_services(store, fake_slack, clock)
    dispatcher = Dispatcher(store, services.clients, clock)
    queue_failure(store, clock, "first")
    assert dispatcher.drain() == 1
    first = fake_slack.last("chat.postMessage").headers["Authorization"]
    bot = services.clients.installation_store.find_bot(enterprise_id=None, team_id="T0SANDBOX")
    bot.bot_token_expires_at = int(time.time()) - 60  # the rotated token has expired in turn
    services.clients.installation_store.save_bot(bot)
    queue_failure(store, clock, "second")
    assert dispatcher.drain() == 1
    second = fake_slack.last("chat.postMessage").headers["Authorization"]
    assert second.startswith("Bearer xoxe.xoxb-rotated") and second != first
