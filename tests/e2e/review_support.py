"""Shared steps for the results review and decision record end-to-end tests (test_reviews.py,
test_decisions.py): the day's clock, MLflow timestamps that follow it, and reading the fake
Slack's messages as a member sees them."""

from __future__ import annotations

import html
from datetime import UTC, datetime

CHANNEL = "C1"


def at(hh: int, mm: int = 0) -> datetime:
    """A time on the tests' day, 2026-11-23 (UTC)."""
    return datetime(2026, 11, 23, hh, mm, tzinfo=UTC)


def ms(moment: datetime) -> int:
    """MLflow's timestamps: milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def text_of(message: dict) -> str:
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements") or [] if isinstance(e.get("text"), str)]
    return html.unescape("\n".join(parts))


def headed(bot, prefix: str) -> list[dict]:
    """The channel's messages whose notification text starts with `prefix` ("Results ready")."""
    return [m for m in bot.fake.messages(CHANNEL) if (m.get("text") or "").startswith(prefix)]


def buttons(message: dict) -> dict[str, dict]:
    """Button label -> the button element (its action_id and value)."""
    return {e["text"]["text"]: e for b in message.get("blocks") or [] if b["type"] == "actions"
            for e in b["elements"]}
