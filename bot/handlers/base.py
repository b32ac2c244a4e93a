"""What a /ready handler receives and returns. Handlers are plain functions: easy to test
without Slack, and the listener turns their Reply into an ack or a response_url post."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.services import Services


@dataclass
class Ctx:
    services: Services
    team_id: str
    channel_id: str
    user_id: str
    client: WebClient | None = None
    trigger_id: str | None = None

    @property
    def now(self) -> datetime:
        return self.services.clock()

    @property
    def store(self):  # noqa: ANN201
        return self.services.store


@dataclass
class Reply:
    text: str
    blocks: list[dict[str, Any]] | None = None
    public: bool = False  # in_channel instead of ephemeral
    # What the handler did, for the listener (never shown): e.g. the scheduled review's time, which
    # the target alert whose button opened the form then shows.
    done: dict[str, Any] = field(default_factory=dict)
    # The blocks already encoded as JSON, one text each, when the handler keeps them so (the
    # sections of `/ready runs`, the same on every listing): as_json then encodes only the text.
    encoded_blocks: list[str] | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> str:
        """as_response as JSON, "" for an empty reply."""
        answer = self.as_response()
        if not answer:
            return ""
        blocks = answer.pop("blocks", None)
        if blocks and self.encoded_blocks is not None and len(self.encoded_blocks) == len(blocks):
            return f'{json.dumps(answer)[:-1]}, "blocks": [{", ".join(self.encoded_blocks)}]}}'
        return json.dumps({**answer, "blocks": blocks} if blocks else answer)

    def as_response(self) -> dict[str, Any]:
        if not self.text and not self.blocks:
            return {}  # e.g. a command that opened a modal: an empty message would show as a blank bubble
        body: dict[str, Any] = {"response_type": "in_channel" if self.public else "ephemeral", "text": self.text}
        if self.blocks:
            body["blocks"] = self.blocks
        return body


@dataclass
class Problem(Exception):
    """A user-facing refusal: the handler changed nothing and says why."""

    message: str
    usage: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def reply(self) -> Reply:
        return Reply(f":warning: {self.message}{usage_text(self.usage)}")


def usage_text(usage: str | None) -> str:
    """The usage line(s) under a refusal, escaped: Slack reads `<name>` as a link even in code."""
    if not usage:
        return ""
    shown = usage.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"\nUsage: `{shown}`" if "\n" not in shown else f"\nUsage:\n```{shown}```"
