"""One module per Slack surface; each exposes register(app, services)."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services


def register_all(app: App, services: Services) -> None:
    from bot.listeners import commands, dedupe, home, views

    dedupe.register(app, services)
    commands.register(app, services)
    views.register(app, services)
    home.register(app, services)
