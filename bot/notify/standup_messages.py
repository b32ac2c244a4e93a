"""Standup DMs with their buttons, and the modals behind them (answer, away, questions).

Button values carry only our row id; everything else is looked up again on click, so an old
DM can never act on someone else's answer (the listener checks the clicking user too)."""

from __future__ import annotations

from typing import Any

from bot.notify.blocks import actions, button
from bot.notify.render import Message, render

ANSWER, SKIP, AWAY = "standup_answer", "standup_skip", "standup_away"
ANSWER_VIEW, AWAY_VIEW, QUESTIONS_VIEW = "standup_answer_view", "standup_away_view", "standup_questions_view"
INPUT_CHARS = 3000  # plain_text_input max_length
# Inputs of the modals, as view.state.values names them: block_id, then the element's action_id.
UNTIL_BLOCK, UNTIL_DATE = "until", "date"
QUESTIONS_BLOCK, TEXT_VALUE = "questions", "value"
FIRST_ANSWER_BLOCK = "q0"  # answers are q0, q1, ... one per question


def prompt_message(payload: dict[str, Any]) -> Message:
    if payload.get("outcome"):
        return done_message(payload, f"standup:{payload['answer_id']}")
    message = render("standup_prompt", **payload)
    answer_id = str(payload["answer_id"])
    message.blocks.append(actions(
        button("Answer", ANSWER, answer_id, "primary"),
        button("Skip today", SKIP, answer_id),
        button("I'm away…", AWAY, answer_id),
        block_id=f"standup:{answer_id}",
    ))
    return message


def reminder_message(payload: dict[str, Any]) -> Message:
    if payload.get("outcome"):
        return done_message(payload, f"standup-reminder:{payload['answer_id']}")
    message = render("standup_reminder", **payload)
    answer_id = str(payload["answer_id"])
    message.blocks.append(actions(
        button("Answer", ANSWER, answer_id, "primary"),
        button("Skip today", SKIP, answer_id),
        block_id=f"standup-reminder:{answer_id}",
    ))
    return message


def done_message(payload: dict[str, Any], block_id: str) -> Message:
    """The prompt once the member answered, skipped or went away: what was done, and one button
    to change it (the answer form, pre-filled with the earlier answer when there is one). The
    choice buttons go, so a stale Skip can no longer be clicked after an answer."""
    message = render("standup_done", **payload)
    answered = payload["outcome"].get("status") == "answered"
    message.blocks.append(actions(
        button("Edit answer" if answered else "Answer after all", ANSWER, str(payload["answer_id"])),
        block_id=block_id,
    ))
    return message


def _text(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def answer_view(answer_id: int, channel_name: str, day: str, questions: list[str],
                initial: list[str]) -> dict[str, Any]:
    """One multiline box per question; `initial` pre-fills them (run updates, or an earlier answer)."""
    blocks: list[dict[str, Any]] = [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Standup in {channel_name}, {day}"[:3000]}]}
    ]
    for i, question in enumerate(questions):
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": True,
                                   "max_length": INPUT_CHARS}
        if i < len(initial) and initial[i]:
            element["initial_value"] = initial[i][:INPUT_CHARS]
        blocks.append({"type": "input", "block_id": f"q{i}", "label": _text(question[:2000]),
                       "element": element, "optional": True})
    return {"type": "modal", "callback_id": ANSWER_VIEW, "private_metadata": str(answer_id),
            "title": _text("Standup"), "submit": _text("Post answer"), "close": _text("Cancel"),
            "blocks": blocks}


def away_view(answer_id: str, today: str) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": AWAY_VIEW, "private_metadata": answer_id,
        "title": _text("Away from standups"), "submit": _text("Save"), "close": _text("Cancel"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "No standup prompts until you are back."}},
            {"type": "input", "block_id": UNTIL_BLOCK, "label": _text("Away until (including)"),
             "element": {"type": "datepicker", "action_id": UNTIL_DATE, "initial_date": today}},
        ],
    }


def questions_view(channel_id: str, questions: list[str]) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": QUESTIONS_VIEW, "private_metadata": channel_id,
        "title": _text("Standup questions"), "submit": _text("Save"), "close": _text("Cancel"),
        "blocks": [
            {"type": "input", "block_id": QUESTIONS_BLOCK, "label": _text("One question per line"),
             "element": {"type": "plain_text_input", "action_id": TEXT_VALUE, "multiline": True,
                         "initial_value": "\n".join(questions)[:INPUT_CHARS], "max_length": INPUT_CHARS}},
        ],
    }


def answers_from(state: dict[str, Any], count: int) -> list[str]:
    """view.state.values -> the answer to each question, in order ("" when left empty)."""
    values = state.get("values") or {}
    return [str((values.get(f"q{i}", {}).get("value") or {}).get("value") or "").strip() for i in range(count)]
