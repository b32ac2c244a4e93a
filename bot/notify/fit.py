"""The rendering check: every message is validated against Block Kit limits before it is sent,
and one that would be rejected is split or repaired instead (never refused).

Slack rejects a message with more than 50 blocks, a section over 3000 characters and so on
(`invalid_blocks`, https://api.slack.com/reference/block-kit/blocks), and has been seen to reject
about 13K characters of blocks in one message (observed, not documented by Slack). The checks
are the sandbox's own `block_kit_errors`, so what the tests' fake Slack would refuse is exactly
what is repaired here.
"""

from __future__ import annotations

import json
from typing import Any

from bot.notify.blockkit import block_kit_errors
from bot.notify.render import MAX_BLOCKS, SECTION_LIMIT, Message, split_text

MESSAGE_CHARS = 11000  # JSON size of one message's blocks, safely under the ~13K seen rejected
Block = dict[str, Any]


def fit_message(message: Message) -> list[Message]:
    """The message as one or more valid messages: the first is posted, the rest go in its thread."""
    blocks: list[Block] = []
    for block in message.blocks:
        blocks.extend(repair_block(block))
    groups = chunk_blocks(blocks) or [[]]
    total = len(groups)
    # No second check of each part: every block passed block_kit_errors on its own (repair_block
    # keeps only those), and the only rule across blocks, their count, is chunk_blocks' own limit.
    # Checking each whole part again doubled the cost of every message sent.
    return [Message(text=message.text if n == 0 else f"{message.text} (part {n + 1} of {total})", blocks=group)
            for n, group in enumerate(groups)]


def chunk_blocks(blocks: list[Block], max_blocks: int = MAX_BLOCKS, max_chars: int = MESSAGE_CHARS) -> list[list[Block]]:
    """Consecutive groups within both the block count and the size budget."""
    groups: list[list[Block]] = []
    current: list[Block] = []
    size = 0
    for block in blocks:
        block_size = len(json.dumps(block))
        if current and (len(current) >= max_blocks or size + block_size > max_chars):
            groups.append(current)
            current, size = [], 0
        current.append(block)
        size += block_size
    if current:
        groups.append(current)
    return groups


def repair_block(block: Block) -> list[Block]:
    """A block that breaks a limit becomes valid blocks: long text is split, long lists chunked,
    labels cut. Blocks Slack would not know are dropped (their text survives in the fallback)."""
    if not block_kit_errors([block]):
        return [block]
    kind = block.get("type")
    fixed: list[Block]
    if kind == "section":
        fixed = _repair_section(block)
    elif kind == "header":
        text = str(block.get("text", {}).get("text") or "…")
        fixed = [{"type": "header", "text": {"type": "plain_text", "text": text[:150]}}]
    elif kind in ("context", "actions"):
        limit = 10 if kind == "context" else 25
        elements = [_cut_element(e) for e in block.get("elements") or []]
        fixed = [{"type": kind, "elements": elements[i : i + limit]} for i in range(0, len(elements), limit)]
    else:
        fixed = [{k: v for k, v in block.items() if k != "block_id"}]
    return [b for b in fixed if not block_kit_errors([b])]


def _repair_section(block: Block) -> list[Block]:
    out: list[Block] = []
    text = block.get("text") or {}
    if text.get("text"):
        kind = text.get("type", "mrkdwn")
        out.extend({"type": "section", "text": {"type": kind, "text": chunk}}
                   for chunk in split_text(str(text["text"]), SECTION_LIMIT))
    fields = [{**f, "text": str(f.get("text", ""))[:2000]} for f in block.get("fields") or [] if f.get("text")]
    out.extend({"type": "section", "fields": fields[i : i + 10]} for i in range(0, len(fields), 10))
    if out and block.get("accessory") and not block_kit_errors([{**out[0], "accessory": block["accessory"]}]):
        out[0]["accessory"] = block["accessory"]
    return out


def _cut_element(element: Block) -> Block:
    element = dict(element)
    if isinstance(element.get("text"), str):
        element["text"] = element["text"][:SECTION_LIMIT]
    elif isinstance(element.get("text"), dict):
        element["text"] = {**element["text"], "text": str(element["text"].get("text", ""))[:75]}
    if isinstance(element.get("value"), str):
        element["value"] = element["value"][:2000]
    return element
