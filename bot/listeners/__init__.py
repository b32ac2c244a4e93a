"""One module per Slack surface; each exposes register(app), which routes Slack's ids to the
module's named listener functions.

Listeners take `services` as a parameter like Bolt's own arguments: ProvideServices puts it in
every request's context, and Bolt injects context keys by parameter name
(https://docs.slack.dev/tools/bolt-python/concepts/context). So a listener is a plain function a
test can call with a fake ack and a body dict.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot.listeners import (
    commands,
    dedupe,
    forecast_actions,
    home,
    messages,
    review_actions,
    run_actions,
    standup_actions,
    target_actions,
    views,
)
from bot.services import Services


class ProvideServices(Middleware):
    """The first of our middleware: everything after it (dedupe, listeners) can name `services`."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        req.context["services"] = self.services
        return next()


def register_all(app: App, services: Services) -> None:
    app.use(ProvideServices(services))
    dedupe.register(app)
    commands.register(app)
    views.register(app)
    review_actions.register(app)
    target_actions.register(app)
    run_actions.register(app)
    forecast_actions.register(app)
    home.register(app)
    standup_actions.register(app)
    messages.register(app)
