"""Command type -> handler. `slow` handlers call trackers and answer via response_url."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot import commands as c
from bot.commands.help import help_text
from bot.handlers import connections, tracking
from bot.handlers.base import Ctx, Reply

Handler = Callable[[Ctx, Any], Reply]


def show_help(_ctx: Ctx, cmd: c.Help) -> Reply:
    return Reply(help_text(cmd.topic))


def not_yet(_ctx: Ctx, cmd: Any) -> Reply:
    return Reply(f":construction: `{type(cmd).__name__}` is not available in this version of readybot yet.")


ROUTES: dict[type, tuple[Handler, bool]] = {
    c.Help: (show_help, False),
    c.Connect: (connections.connect, True),
    c.ConnectModal: (connections.connect_modal, False),
    c.Track: (tracking.track, True),
    c.Untrack: (tracking.untrack, False),
    c.Runs: (tracking.runs, False),
}


def route(cmd: Any) -> tuple[Handler, bool]:
    return ROUTES.get(type(cmd), (not_yet, False))
