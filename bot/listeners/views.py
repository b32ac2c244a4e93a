"""Modal submissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.commands import Connect, ParseError, parse
from bot.handlers.base import Problem
from bot.handlers.connections import CONNECT_MODAL, connect
from bot.listeners import home
from bot.listeners.ids import ctx_for, view_metadata
from bot.listeners.replays import once_per_view
from bot.services import Services


def register(app: App) -> None:
    app.view(CONNECT_MODAL)(once_per_view(on_connect))


def on_connect(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any, services: Services) -> None:
    values = view_values(view)
    kind = values.get("kind") or ""
    url = values.get("url") or ("" if kind == "push" else "default")
    text = f"connect {kind} {url}" if url else f"connect {kind}"
    if values.get("name"):
        text += f" as {values['name']}"
    cmd = parse(text)
    if isinstance(cmd, ParseError):
        ack(response_action="errors", errors={"url": plain(cmd.message)[:150]})
        return
    if not isinstance(cmd, Connect):
        ack(response_action="errors", errors={"kind": "Choose a tracker"})
        return
    cmd = Connect(kind=cmd.kind, url=cmd.url, name=cmd.name, key=values.get("key") or None)
    ctx = ctx_for(services, body, client, channel=view_metadata(view))
    try:
        reply = connect(ctx, cmd)
    except Problem as problem:
        field = problem.extra.get("field", "url")
        ack(response_action="errors", errors={field: plain(problem.extra.get("form", problem.message))[:150]})
        return
    ack()
    # The confirmation (and a push token) go to the user alone: opened from Home (no channel),
    # by DM (chat.postMessage to a user id posts in the app's DM with them), and Home is redrawn.
    if not ctx.channel_id:
        client.chat_postMessage(channel=ctx.user_id, text=reply.text)
        home.publish(services, client, ctx.team_id, ctx.user_id, reply.text.split("\n")[0])
        return
    client.chat_postEphemeral(channel=ctx.channel_id, user=ctx.user_id, text=reply.text)


def plain(message: str) -> str:
    """A refusal written for a message, as the plain text a modal shows under a field."""
    text = message.replace("`", "").replace("*", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def view_values(view: dict[str, Any]) -> dict[str, str]:
    """Flatten state.values: block_id -> the input's value (text or selected option)."""
    out: dict[str, str] = {}
    for block_id, actions in (view.get("state", {}).get("values") or {}).items():
        for element in actions.values():
            if element.get("selected_option"):
                out[block_id] = element["selected_option"].get("value", "")
            elif element.get("value") is not None:
                out[block_id] = element["value"].strip()
            elif element.get("selected_date_time") is not None:
                out[block_id] = str(element["selected_date_time"])
    return out
