"""One module per Slack surface; each exposes register(app, services)."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services


def register_all(app: App, services: Services) -> None:
    from bot.listeners import commands, dedupe, home, target_actions, views

    dedupe.register(app, services)
    commands.register(app, services)
    views.register(app, services)
    from bot.listeners import review_actions

    review_actions.register(app, services)
    target_actions.register(app, services)
    home.register(app, services)
    from bot.listeners import standup_actions

    standup_actions.register(app, services)
