"""Messages typed to the bot in its DM (the app's Messages tab): answered with the /ready help.

Slack sends them as `message` events with `channel_type: im` through the `message.im`
subscription (https://api.slack.com/events/message.im). Edits, deletions and the other subtypes
(https://api.slack.com/events/message), and whatever a bot writes, readybot's own answers
among them, are nobody asking: they match no listener, so nothing answers them. Slack's retried
deliveries are dropped before this by bot/listeners/dedupe.py.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk.errors import SlackApiError

from bot.commands import Help, ParseError, help_text, parse
from bot.notify.render import escape

log = logging.getLogger(__name__)
MAX_ECHO = 200
INTRO = (":wave: I answer `/ready` commands, typed in a channel or here; I don't read other messages. "
         "`/ready help <command>` explains one.")


def register(app: App) -> None:
    app.event("message", matchers=[typed_by_a_person_in_a_dm])(on_direct_message)


def typed_by_a_person_in_a_dm(event: dict[str, Any], context: BoltContext) -> bool:
    user = event.get("user")
    return (event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id")
            and isinstance(user, str) and bool(user) and user != context.bot_user_id
            and isinstance(event.get("channel"), str))


def on_direct_message(event: dict[str, Any], client: Any) -> None:
    try:
        client.chat_postMessage(channel=event["channel"], text=dm_answer(event.get("text")),
                                thread_ts=event.get("thread_ts"))
    except SlackApiError as exc:
        # Slack acks events before listeners run: a DM that cannot be answered (the channel
        # is gone, or was never a DM with us) is one line in the log, not a traceback.
        log.warning("could not answer a direct message: %s", exc.response.get("error"))


def dm_answer(typed: Any) -> str:
    """`help <topic>` gets that topic; a command typed as a message is shown as the slash
    command it would be; anything else gets the whole help."""
    text = typed.strip() if isinstance(typed, str) else ""
    text = text.removeprefix("/ready").strip()
    cmd = parse(text)
    if isinstance(cmd, Help) and text:
        return help_text(cmd.topic)
    if not isinstance(cmd, ParseError | Help):
        return f"{INTRO}\nTo run that, type it as a slash command: `/ready {_echo(text)}`"
    return f"{INTRO}\n\n{help_text(None)}"


def _echo(text: str) -> str:
    # The answer quotes the command, but never a tracker key typed with it.
    words = ["key=…" if word.lower().startswith("key=") else word for word in text.split()]
    shown = " ".join(words).replace("`", "'")
    return escape(shown if len(shown) <= MAX_ECHO else shown[: MAX_ECHO - 1] + "…")
