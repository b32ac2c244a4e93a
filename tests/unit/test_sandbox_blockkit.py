"""Table-driven checks of the Block Kit limits the sandbox and the bot enforce."""

import pytest

from bot.sandbox import block_kit_errors, view_errors


def section(text="hi", **extra):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(**extra):
    return {"type": "button", "action_id": "ack", "text": {"type": "plain_text", "text": "Ack"}, **extra}


VALID = [
    ([section()] * 50, "message"),
    ([section()] * 100, "modal"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}], "message"),
    ([section("x" * 3000)], "message"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 10}], "message"),
    ([{"type": "actions", "elements": [button()] * 25}], "message"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10}], "home"),
    ([section(accessory=button(value="v" * 2000))], "message"),
    ([{"type": "divider"}], "message"),
]

INVALID = [
    ([section()] * 51, "message", "blocks: 51 blocks, max 50 in a message"),
    ([section()] * 101, "home", "blocks: 101 blocks, max 100 in a home"),
    ([section("x" * 3001)], "message", "blocks[0].text.text: 3001 characters, max 3000"),
    ([section("")], "message", "blocks[0].text.text: must not be empty"),
    ([{"type": "section"}], "message", "blocks[0]: section needs text or fields"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "message",
     "blocks[0].fields: 11 items, max 10"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}], "message",
     "blocks[0].fields[0].text: 2001 characters, max 2000"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "message",
     "blocks[0].text.text: 151 characters, max 150"),
    ([{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}], "message",
     "blocks[0].text.type: header text must be plain_text"),
    ([{"type": "actions", "elements": [button()] * 26}], "message", "blocks[0].elements: 26 items, max 25"),
    ([{"type": "actions", "elements": []}], "message", "blocks[0].elements: required, must not be empty"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "message",
     "blocks[0].elements: 11 items, max 10"),
    ([{"type": "actions", "elements": [button(text={"type": "plain_text", "text": "b" * 76})]}], "message",
     "blocks[0].elements[0].text.text: 76 characters, max 75"),
    ([section(accessory=button(action_id="a" * 256))], "message",
     "blocks[0].accessory.action_id: 256 characters, max 255"),
    ([section(block_id="b" * 256)], "message", "blocks[0].block_id: 256 characters, max 255"),
    ([{"type": "tabel"}], "message", "blocks[0].type: unknown block type 'tabel'"),
    ("not a list", "message", "blocks: must be a list"),
]


@pytest.mark.parametrize(("blocks", "surface"), VALID)
def test_valid_blocks(blocks, surface):
    assert block_kit_errors(blocks, surface) == []


@pytest.mark.parametrize(("blocks", "surface", "error"), INVALID)
def test_invalid_blocks(blocks, surface, error):
    assert block_kit_errors(blocks, surface) == [error]


def test_unknown_surface_is_a_programming_error():
    with pytest.raises(ValueError, match="surface"):
        block_kit_errors([], "email")


def test_view_limits():
    title = {"type": "plain_text", "text": "t" * 24}
    assert view_errors({"type": "modal", "title": title, "blocks": [section()] * 100}) == []
    assert view_errors({"type": "modal", "blocks": []}) == ["view.title.text: required, must not be empty"]
    assert view_errors({"type": "home", "private_metadata": "m" * 3001, "blocks": [section()] * 101}) == [
        "view.private_metadata: 3001 characters, max 3000",
        "view.blocks: 101 blocks, max 100 in a home",
    ]
    assert view_errors({"type": "message"}) == ["view.type: must be modal or home"]


def test_a_buttons_confirm_dialog_is_held_to_slacks_limits():
    from bot.notify.blocks import STOP_RUN, actions, button, confirm

    element = button("Stop run", STOP_RUN, "7")
    element["confirm"] = confirm("Stop this run?", "x" * 300, "Stop run", "Keep going")
    assert block_kit_errors([actions(element)]) == []
    element["confirm"]["text"]["text"] = "x" * 301  # what confirm() itself never builds
    assert block_kit_errors([actions(element)]) == ["blocks[0].elements[0].confirm.text.text: 301 characters, max 300"]
