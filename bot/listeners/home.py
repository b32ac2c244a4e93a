"""App Home: for the person looking, every channel of theirs the bot has data for in this team,
with its runs, targets and upcoming reviews, and buttons.

Their channels come from users.conversations (https://api.slack.com/methods/users.conversations),
intersected with the channels the store knows for the team. Every button goes through the
handler its command uses, with the channel the button names, so the same team and channel
scope and the same creator-or-admin rule apply (bot/handlers/permissions.py); the outcome, a
refusal included, is a note at the top of the republished Home.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.commands import RunRef, TargetRemove, Untrack
from bot.core.reviews import POSTPONED
from bot.core.row_ids import require_row_id
from bot.handlers import targets, tracking
from bot.handlers.base import Ctx, Problem
from bot.handlers.connections import connect_view
from bot.handlers.review_decisions import decide
from bot.handlers.review_form import review_modal_view
from bot.handlers.reviews import gcal_enabled
from bot.listeners.ids import action_value, body_ids
from bot.listeners.target_actions import deliver_now
from bot.notify import home_view as hv
from bot.notify.render import date_token, escape
from bot.services import Services
from bot.slack_members import member_channel_ids
from bot.store.home import channel_homes, channels_with_data

log = logging.getLogger(__name__)
NOT_LISTED = ":warning: Slack would not list your channels just now, so this tab may be missing some; open it again."


def register(app: App) -> None:
    app.event("app_home_opened")(on_home_opened)
    for action_id in (hv.UNTRACK, hv.REVIEW, hv.POSTPONE, hv.REMOVE_TARGET):
        app.action(action_id)(on_home_button)
    app.action(hv.CONNECT)(on_connect_button)


def on_home_opened(body: dict[str, Any], event: dict[str, Any], client: Any, services: Services) -> None:
    if event.get("tab", "home") != "home":
        return
    ids = body_ids(body)
    if ids.user:
        publish(services, client, ids.team or "", ids.user)


def publish(services: Services, client: Any, team_id: str, user_id: str, notice: str | None = None) -> None:
    """Publish the viewer's Home; a Slack refusal (a user it does not know, a revoked token) is one
    log line, since there is nobody to show anything to."""
    try:
        client.views_publish(user_id=user_id, view=home_view(services, client, team_id, user_id, notice))
    except SlackApiError as exc:
        log.warning("views.publish for the Home of %s failed: %s", user_id[:40], exc.response.get("error"))


def home_view(services: Services, client: Any, team_id: str, user_id: str, notice: str | None = None) -> dict:
    try:
        member_of = member_channel_ids(client, user_id)
    except SlackApiError as exc:
        log.warning("users.conversations for %s failed: %s", user_id, exc.response.get("error"))
        member_of, notice = [], "\n".join(filter(None, [notice, NOT_LISTED]))
    now = services.clock()
    with services.store.tx() as s:
        channels = channels_with_data(s, team_id, member_of, now)
        homes = channel_homes(s, team_id, channels[: hv.MAX_CHANNELS], now, hv.PER_KIND)
    return hv.home_view(homes, channels[hv.MAX_CHANNELS:], notice)


def on_home_button(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any,
                   services: Services) -> None:
    ack()
    ids = body_ids(body)
    team, user = ids.team or "", ids.user or ""
    if not user:
        return
    try:
        fields = json.loads(action_value(action))
        channel = fields["channel"]
        if not isinstance(channel, str) or not isinstance(fields, dict):
            raise TypeError(channel)
    except (ValueError, KeyError, TypeError):
        log.warning("home button %s with a malformed value from %s", action.get("action_id"), user)
        publish(services, client, team, user, ":warning: That button is out of date; here is the tab as it is now.")
        return
    ctx = Ctx(services, team_id=team, channel_id=channel, user_id=user, client=client, trigger_id=ids.trigger)
    try:
        notice = act(ctx, action.get("action_id", ""), fields)
    except Problem as problem:
        notice = f"In <#{channel}>: {problem.reply().text}"
    except (ValueError, KeyError, TypeError):
        notice = ":warning: That button is out of date; here is the tab as it is now."
    except SlackApiError as exc:  # users.conversations or views.open refused: nothing was changed
        log.warning("home button %s: Slack said %s", action.get("action_id"), exc.response.get("error"))
        notice = ":warning: Slack did not answer just now, so nothing was changed; try again."
    if notice:
        publish(services, client, team, user, notice)


def act(ctx: Ctx, action_id: str, fields: dict[str, Any]) -> str | None:
    """Do what the button says through its command's handler; the note for the top of Home."""
    if action_id == hv.REVIEW:
        # The trigger expires 3 s after the click: the form opens before anything slower.
        refs = [r for r in fields.get("runs") or [] if isinstance(r, str)]
        ctx.client.views_open(trigger_id=ctx.trigger_id,
                              view=review_modal_view(ctx.channel_id, refs, gcal_enabled(ctx), from_home=True))
        return None
    if ctx.channel_id not in member_channel_ids(ctx.client, ctx.user_id):
        raise Problem("You are not a member of that channel (any more), so nothing was changed there.")
    if action_id == hv.UNTRACK:
        ref = RunRef(str(fields["conn"]), str(fields["ref"]), bool(fields.get("experiment")))
        return tracking.untrack(ctx, Untrack(ref)).text.replace("in this channel", f"in <#{ctx.channel_id}>")
    if action_id == hv.REMOVE_TARGET:
        return f"In <#{ctx.channel_id}>: " + targets.remove(ctx, TargetRemove(require_row_id(fields["id"]))).text
    if action_id == hv.POSTPONE:
        done = decide(ctx.services, require_row_id(fields["id"]), POSTPONED, ctx.user_id, ctx.team_id, ctx.channel_id)
        deliver_now(ctx.services)  # the review's warnings in the channel show the decision at once
        return (f":arrow_right: Postponed review #{done.review_id} *{escape(done.title)}* in <#{ctx.channel_id}> "
                f"to {date_token(done.at)}.")
    raise ValueError(action_id)


def on_connect_button(ack: Callable, body: dict[str, Any], client: Any) -> None:
    """The connect form, from Home: no channel, so its confirmation comes by DM (bot/listeners/views.py)."""
    ack()
    try:
        client.views_open(trigger_id=body_ids(body).trigger, view=connect_view(""))
    except SlackApiError as exc:  # expired_trigger_id after a slow click, most likely
        log.warning("could not open the connect form from Home: %s", exc.response.get("error"))
