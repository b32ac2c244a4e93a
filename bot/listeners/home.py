"""App Home tab: the user's runs, upcoming reviews and targets."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from sqlalchemy import select

from bot.listeners.ids import body_ids
from bot.notify.render import render
from bot.services import Services
from bot.store.models import Review, Target, Watch
from bot.store.runs import channel_runs

log = logging.getLogger(__name__)
MAX_HOME_BLOCKS = 100  # Slack's limit for a Home tab view


def register(app: App) -> None:
    app.event("app_home_opened")(on_home_opened)


def on_home_opened(body: dict[str, Any], event: dict[str, Any], client: Any, services: Services) -> None:
    if event.get("tab", "home") != "home":
        return
    ids = body_ids(body)
    if ids.user:
        client.views_publish(user_id=ids.user, view=home_view(services, ids.team or "", ids.user))


def home_view(services: Services, team_id: str, user_id: str) -> dict[str, Any]:
    now = services.clock()
    with services.store.tx() as s:
        channels = sorted(
            set(s.scalars(select(Watch.channel_id).where(Watch.team_id == team_id, Watch.created_by == user_id)))
        )
        runs = [(run, conn, ch) for ch in channels for run, conn in channel_runs(s, team_id, ch)]
        reviews = list(
            s.scalars(
                select(Review)
                .where(Review.team_id == team_id, Review.at >= now, Review.state.notin_(("cancelled", "done")))
                .where((Review.created_by == user_id) | Review.channel_id.in_(channels or [""]))
                .order_by(Review.at)
                .limit(10)
            )
        )
        targets = list(
            s.scalars(select(Target).where(Target.team_id == team_id, Target.created_by == user_id).limit(15))
        )
        message = render("home", runs=runs[:25], more_runs=max(0, len(runs) - 25), reviews=reviews,
                         targets=targets, now=now)
    return {"type": "home", "blocks": message.blocks[:MAX_HOME_BLOCKS]}
