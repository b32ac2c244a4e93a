"""Block Kit limits, checked on plain dicts the way Slack checks them.

slack_sdk's block classes validate some limits when serialized, but plain dicts (what our
templates render to) are never checked and nothing checks the per-message block count, so a
too-long digest only fails in production with `invalid_blocks`. The sandbox answers with that
error when a check here fails, and the bot runs the same checks before sending.

Limits: https://api.slack.com/reference/block-kit/blocks and
https://api.slack.com/reference/surfaces/views.
"""

from __future__ import annotations

from typing import Any

# Blocks allowed per surface: https://api.slack.com/reference/block-kit/blocks
MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}

def char_limit(block_type: str, path: str) -> int:
    """The length limit BLOCK_RULES sets on one field, for code that cuts text to fit."""
    return next(limit for kind, p, check, limit in BLOCK_RULES if (kind, p, check) == (block_type, path, "chars"))


KNOWN_BLOCK_TYPES = frozenset(
    {"actions", "context", "divider", "file", "header", "image", "input", "markdown", "rich_text",
     "section", "video"}
)

# (type or "*", path, check, limit). A path walks dict keys; "name[]" walks every item of a list.
# "chars" = max string length, "items" = max list length, "nonempty" = must be present and non-empty.
BLOCK_RULES: tuple[tuple[str, str, str, int], ...] = (
    ("*", "block_id", "chars", 255),
    ("section", "text.text", "chars", 3000),
    ("section", "fields", "items", 10),
    ("section", "fields[].text", "chars", 2000),
    ("header", "text.text", "nonempty", 0),
    ("header", "text.text", "chars", 150),
    ("actions", "elements", "nonempty", 0),
    ("actions", "elements", "items", 25),
    ("context", "elements", "nonempty", 0),
    ("context", "elements", "items", 10),
    ("image", "image_url", "chars", 3000),
    ("image", "alt_text", "chars", 2000),
    ("input", "label.text", "chars", 2000),
)

# Interactive elements, wherever they sit (actions.elements, section.accessory, input.element).
ELEMENT_RULES: tuple[tuple[str, str, str, int], ...] = (
    ("*", "action_id", "chars", 255),
    ("button", "text.text", "nonempty", 0),
    ("button", "text.text", "chars", 75),
    ("button", "value", "chars", 2000),
    ("button", "url", "chars", 3000),
    # https://api.slack.com/reference/block-kit/composition-objects#confirm
    ("button", "confirm.title.text", "chars", 100),
    ("button", "confirm.text.text", "chars", 300),
    ("button", "confirm.confirm.text", "chars", 30),
    ("button", "confirm.deny.text", "chars", 30),
    ("static_select", "options", "items", 100),
    ("overflow", "options", "items", 5),
)

# https://api.slack.com/reference/surfaces/views
VIEW_RULES: tuple[tuple[str, str, str, int], ...] = (
    ("modal", "title.text", "nonempty", 0),
    ("*", "title.text", "chars", 24),
    ("*", "submit.text", "chars", 24),
    ("*", "close.text", "chars", 24),
    ("*", "private_metadata", "chars", 3000),
    ("*", "callback_id", "chars", 255),
    ("*", "external_id", "chars", 255),
)


def block_kit_errors(blocks: Any, surface: str = "message") -> list[str]:
    """Every reason Slack would reject `blocks` on `surface` (message, modal, home); [] if none."""
    if surface not in MAX_BLOCKS:
        raise ValueError(f"unknown surface {surface!r}, expected one of {sorted(MAX_BLOCKS)}")
    if not isinstance(blocks, list):
        return ["blocks: must be a list"]
    errors = []
    if len(blocks) > MAX_BLOCKS[surface]:
        errors.append(f"blocks: {len(blocks)} blocks, max {MAX_BLOCKS[surface]} in a {surface}")
    for i, block in enumerate(blocks):
        errors.extend(_block_errors(block, f"blocks[{i}]"))
    return errors


def view_errors(view: Any) -> list[str]:
    """Every reason Slack would reject a modal or Home tab view (views.open/push/update/publish)."""
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        return ["view.type: must be modal or home"]
    errors = _apply(VIEW_RULES, view, "view")
    errors.extend("view." + e for e in block_kit_errors(view.get("blocks", []), view["type"]))
    return errors


def _block_errors(block: Any, where: str) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCK_TYPES:
        kind = block.get("type") if isinstance(block, dict) else type(block).__name__
        return [f"{where}.type: unknown block type {kind!r}"]
    errors = _apply(BLOCK_RULES, block, where)
    if block["type"] == "section":
        # Slack: a section must provide text or fields, and text, when given, must not be empty.
        texts = [value for _, value in _find(block, "text.text")]
        if texts and not texts[0]:
            errors.append(f"{where}.text.text: must not be empty")
        if not texts and not block.get("fields"):
            errors.append(f"{where}: section needs text or fields")
    # Header text is plain_text only; mrkdwn there is a common template mistake.
    if block["type"] == "header" and block.get("text", {}).get("type") != "plain_text":
        errors.append(f"{where}.text.type: header text must be plain_text")
    for path in ("elements[]", "accessory", "element"):
        for pointer, element in _find(block, path):
            if _is_element(element):
                errors.extend(_apply(ELEMENT_RULES, element, f"{where}{pointer}"))
    return errors


def _is_element(obj: Any) -> bool:
    # Context blocks hold text objects and images, which are not interactive elements.
    return isinstance(obj, dict) and obj.get("type") not in ("mrkdwn", "plain_text", "image", None)


def _apply(rules: tuple[tuple[str, str, str, int], ...], obj: dict, where: str) -> list[str]:
    errors = []
    for kind, path, check, limit in rules:
        if kind not in ("*", obj.get("type")):
            continue
        found = _find(obj, path)
        if check == "nonempty" and not any(value for _, value in found):
            errors.append(f"{where}.{path}: required, must not be empty")
        for pointer, value in found:
            size = len(value) if isinstance(value, str | list) else 0
            if check == "chars" and size > limit:
                errors.append(f"{where}{pointer}: {size} characters, max {limit}")
            if check == "items" and size > limit:
                errors.append(f"{where}{pointer}: {size} items, max {limit}")
    return errors


def _find(obj: Any, path: str) -> list[tuple[str, Any]]:
    """(pointer, value) for every value at `path`, e.g. "fields[].text" -> (".fields[0].text", ...)."""
    found: list[tuple[str, Any]] = [("", obj)]
    for part in path.split("."):
        key = part.removesuffix("[]")
        step = []
        for pointer, current in found:
            if not isinstance(current, dict) or key not in current:
                continue
            value = current[key]
            if part.endswith("[]"):
                if isinstance(value, list):
                    step.extend((f"{pointer}.{key}[{i}]", item) for i, item in enumerate(value))
            else:
                step.append((f"{pointer}.{key}", value))
        found = step
    return found
