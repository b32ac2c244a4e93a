"""What a reader sees of a Slack message, for assertions that read like a user's."""

from __future__ import annotations

import html


def shown(message: dict) -> str:
    """The message's fallback text and block texts, with Slack's escapes undone."""
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        for element in block.get("elements") or []:
            if isinstance(element.get("text"), str):
                parts.append(element["text"])
    return html.unescape("\n".join(parts))
