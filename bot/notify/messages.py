"""Outbox template name -> Slack message. Most messages are just their template; a few add
buttons, registered here explicitly so every interactive message is easy to find."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.notify.render import Message, render

Builder = Callable[[dict[str, Any]], Message]
BUILDERS: dict[str, Builder] = {}


def builder(template: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        BUILDERS[template] = fn
        return fn

    return register


def build(template: str, payload: dict[str, Any]) -> Message:
    fn = BUILDERS.get(template)
    return fn(payload) if fn else render(template, **payload)


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


@builder("digest")
def digest_message(payload: dict[str, Any]) -> Message:
    """The digest's notification text counts what happened; its header alone says nothing."""
    message = render("digest", **payload)
    digest = payload["digest"]
    counts = [f"{digest.get(key + '_count', 0)} {label}" for key, label in
              (("finished", "finished"), ("failed", "failed"), ("stalled", "stalled"), ("running", "in progress"))
              if digest.get(key + "_count")]
    message.text = "Run digest: " + (", ".join(counts) if counts else "nothing new")
    return message
