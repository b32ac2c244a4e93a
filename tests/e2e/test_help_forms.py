"""`/ready help` and the forms it lists, over signed requests through the real Bolt app."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from bot.store.models import Connection


def test_help_lists_the_forms_as_they_are(bot):
    text = html.unescape(bot.reply("help"))
    assert "/ready connect push [as <name>]" in text
    assert "/ready connect   (opens a form" in text and "/ready review [runs <ref>,...]   (opens a form" in text
    review = html.unescape(bot.reply("help review"))
    assert "<conn>:experiment/<name>" in review and "active when you schedule" in review


def test_connect_push_with_a_url_is_refused_and_connects_nothing(bot):
    text = html.unescape(bot.reply("connect push https://ci.example.com as ci"))
    assert "push takes no URL" in text and "/ready connect push [as <name>]" in text
    with bot.services.store.tx() as s:
        assert s.scalar(select(func.count()).select_from(Connection)) == 0
