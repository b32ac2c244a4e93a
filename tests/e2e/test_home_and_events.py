"""Events API: App Home publishing, and Slack's retried deliveries handled once."""

from __future__ import annotations

from bot.sandbox import block_kit_errors


def home_opened(user: str = "U1") -> dict:
    return {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home", "event_ts": "1.0"}


def test_home_tab_shows_the_users_runs(bot):
    bot.reply("connect push as trainer")
    bot.reply("track trainer:resnet-7")
    resp = bot.slack.event(home_opened(), event_id="Ev1")
    assert resp.status_code == 200
    assert bot.fake.wait_for(lambda: bot.fake.home("U1"))
    view = bot.fake.home("U1")
    text = str(view["blocks"])
    assert "resnet-7" in text and "trainer" in text
    assert block_kit_errors(view["blocks"], surface="home") == []


def test_retried_event_delivery_is_handled_once(bot):
    bot.slack.event(home_opened(), event_id="Ev42")
    assert bot.fake.wait_for(lambda: bot.fake.calls("views.publish"))
    for retry in (1, 2, 3):
        assert bot.slack.event(home_opened(), event_id="Ev42", retry_num=retry).status_code == 200
    # A fresh event proves the listener is still live, and orders the check after the retries.
    bot.slack.event(home_opened("U1"), event_id="Ev43")
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("views.publish")) >= 2)
    assert len(bot.fake.calls("views.publish")) == 2
