"""Who clicked where: the team, channel, user and trigger ids of any Slack request body.

Slack puts them in different places per payload type: slash commands flat (`team_id`,
`channel_id`, `user_id`; https://api.slack.com/interactivity/slash-commands), interactions
nested (`team.id`, `channel.id` or `container.channel_id`, `user.id`;
https://api.slack.com/reference/interaction-payloads) and events inside `event`
(https://api.slack.com/apis/connections/events-api#callback-field). A signed request can still
carry a malformed body, so every lookup tolerates a missing or wrong-typed field and gives None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.handlers.base import Ctx
from bot.services import Services


@dataclass(frozen=True)
class BodyIds:
    team: str | None
    channel: str | None
    user: str | None
    trigger: str | None


def body_ids(body: Any) -> BodyIds:
    if not isinstance(body, dict):
        return BodyIds(None, None, None, None)
    event = _dict(body.get("event"))
    return BodyIds(
        team=_id(body.get("team")) or _text(body.get("team_id")),
        channel=_id(body.get("channel")) or _text(_dict(body.get("container")).get("channel_id"))
        or _text(body.get("channel_id")) or _text(event.get("channel")),
        user=_id(body.get("user")) or _text(body.get("user_id")) or _text(event.get("user")),
        trigger=_text(body.get("trigger_id")),
    )


def ctx_for(services: Services, body: Any, client: Any, channel: str | None = None) -> Ctx:
    """The handler context of a request; a modal passes `channel` from its private_metadata."""
    ids = body_ids(body)
    return Ctx(services, team_id=ids.team or "", channel_id=(ids.channel or "") if channel is None else channel,
               user_id=ids.user or "", client=client, trigger_id=ids.trigger)


def view_metadata(view: Any) -> str:
    """A modal's private_metadata, which our modals set to what they act on (a channel, an answer)."""
    return _text(_dict(view).get("private_metadata")) or ""


def message_ts(body: Any) -> str | None:
    """The ts of the message whose button was clicked (None for a click inside a modal)."""
    return _text(_dict(_dict(body).get("container")).get("message_ts"))


def action_value(action: Any) -> str:
    """The clicked button's value (our row id), "" when there is none."""
    value = _dict(action).get("value")
    return value if isinstance(value, str) else ""


def _id(field: Any) -> str | None:
    return _text(_dict(field).get("id"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
