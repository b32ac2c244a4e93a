"""The rendering check before sending: any message becomes valid Block Kit messages."""

from __future__ import annotations

from bot.notify.fit import MESSAGE_CHARS, fit_message
from bot.notify.messages import BUILDERS, build
from bot.notify.render import Message, render
from bot.sandbox import block_kit_errors


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def assert_valid(parts: list[Message]) -> None:
    for part in parts:
        assert block_kit_errors(part.blocks) == [], part.blocks
        assert part.text


def test_a_valid_message_is_sent_as_is():
    message = Message("hi", [section("hello")])
    assert fit_message(message) == [message]


def test_too_many_and_too_large_blocks_become_thread_parts():
    message = Message("digest", [section("x" * 2900) for _ in range(120)])
    parts = fit_message(message)
    assert_valid(parts)
    assert len(parts) > 3
    assert sum(len(p.blocks) for p in parts) == 120
    assert parts[1].text == f"digest (part 2 of {len(parts)})"
    assert all(sum(len(b["text"]["text"]) for b in p.blocks) <= MESSAGE_CHARS for p in parts)


def test_broken_blocks_are_repaired_not_rejected():
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 400}},
        section("line\n" * 1500),  # 7500 characters in one section
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2500} for _ in range(15)]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": str(i)} for i in range(25)]},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "b" * 100}, "action_id": f"a{i}", "value": "v"}
            for i in range(30)]},
        {"type": "marquee", "text": "unknown block"},
        section("x", ) | {"block_id": "b" * 300},
    ]
    parts = fit_message(Message("mixed", blocks))
    assert_valid(parts)
    kinds = [b["type"] for p in parts for b in p.blocks]
    assert kinds.count("header") == 1 and kinds.count("actions") == 2 and kinds.count("context") == 3
    assert "marquee" not in kinds


def test_standup_summary_with_500_members_fits():
    users = [f"U{i:08d}" for i in range(500)]
    message = render("standup_summary", day="Mon 23 Nov", answered=users[:200], skipped=users[200:300],
                     away=users[300:350], missing=users[350:], total=500)
    parts = fit_message(message)
    assert_valid(parts)
    text = "".join(b["text"]["text"] for p in parts for b in p.blocks)
    assert all(f"<@{u}>" in text for u in users)


def test_standup_dm_builders_have_buttons():
    assert "standup_prompt" in BUILDERS
    message = build("standup_prompt", {"answer_id": 7, "channel_id": "C1", "day": "Mon 23 Nov",
                                       "questions": ["Done?", "Next?"], "due_at": "2026-11-23T13:30:00+00:00"})
    assert_valid([message])
    buttons = message.blocks[-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["standup_answer", "standup_skip", "standup_away"]
    assert {b["value"] for b in buttons} == {"7"}
