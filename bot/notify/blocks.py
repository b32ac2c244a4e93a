"""Block Kit pieces the message builders and modals share: buttons, actions rows, text inputs.
Element shapes and limits: https://api.slack.com/reference/block-kit/block-elements"""

from __future__ import annotations

from typing import Any

# The "Stop run" button of every run message (target alert, diverged, unlikely to reach the
# target) and of `/ready runs`; its value is the run's database id (runs.id) as text.
# bot/listeners/run_actions.py answers it.
STOP_RUN = "run_stop"


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text[:75]},
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        element["style"] = style
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id[:255]
    return block


def text_input(block_id: str, label: str, placeholder: str, *, optional: bool = False, initial: str = "",
               max_length: int | None = None) -> dict[str, Any]:
    """A modal's one-line text input; its value comes back under action_id "value"."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "placeholder": {"type": "plain_text", "text": placeholder[:150]},
    }
    if max_length:
        element["max_length"] = max_length
    if initial:
        element["initial_value"] = initial
    return {"type": "input", "block_id": block_id, "optional": optional,
            "label": {"type": "plain_text", "text": label[:2000]}, "element": element}


def confirm(title: str, text: str, yes: str, no: str) -> dict[str, Any]:
    """Slack's own confirmation dialog on a button: the click is sent only after "yes".
    https://api.slack.com/reference/block-kit/composition-objects#confirm"""
    return {
        "title": {"type": "plain_text", "text": title[:100]},
        "text": {"type": "mrkdwn", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes[:30]},
        "deny": {"type": "plain_text", "text": no[:30]},
        "style": "danger",
    }
