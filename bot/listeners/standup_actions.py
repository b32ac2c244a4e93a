"""Standup buttons (answer, skip, away, edit questions) and their modals.

Buttons ack first and then open the modal: a trigger_id is only good for 3 seconds, and the
lookups before views.open are single-row reads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.handlers import issue_links
from bot.handlers import standup_actions as act
from bot.handlers.base import Problem
from bot.handlers.schedules import EDIT_QUESTIONS
from bot.listeners.ids import action_value, body_ids, view_metadata
from bot.listeners.replays import once_per_view
from bot.listeners.target_actions import deliver_now
from bot.notify.standup_messages import (
    ANSWER,
    ANSWER_VIEW,
    AWAY,
    AWAY_VIEW,
    FIRST_ANSWER_BLOCK,
    QUESTIONS_BLOCK,
    QUESTIONS_VIEW,
    SKIP,
    TEXT_VALUE,
    UNTIL_BLOCK,
    UNTIL_DATE,
    answers_from,
)
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(ANSWER)(on_answer)
    app.action(AWAY)(on_away)
    app.action(EDIT_QUESTIONS)(on_edit_questions)
    app.action(SKIP)(on_skip)
    app.view(ANSWER_VIEW)(once_per_view(on_answer_submitted))
    app.view(AWAY_VIEW)(once_per_view(on_away_submitted))
    app.view(QUESTIONS_VIEW)(once_per_view(on_questions_submitted))


def on_answer(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any, services: Services) -> None:
    ack()
    open_modal(lambda: act.answer_modal(services, action_value(action), _user(body), _team(body)), body, client)


def on_away(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any, services: Services) -> None:
    ack()
    open_modal(lambda: act.away_modal(services, action_value(action), _user(body), _team(body)), body, client)


def on_edit_questions(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any,
                      services: Services) -> None:
    ack()
    open_modal(lambda: act.questions_modal(services, _team(body), action_value(action), body_ids(body).channel),
               body, client)


def on_skip(ack: Callable, body: dict[str, Any], action: dict[str, Any], client: Any, services: Services) -> None:
    ack()
    try:
        text = act.skip(services, action_value(action), _user(body), _team(body))
    except Problem as problem:
        # Said apart: a prompt that is not the clicker's must stay as it is.
        _tell(client, body, f":warning: {problem.message}")
        return
    if text is None:
        deliver_now(services)  # the prompt (and reminder) now say it was skipped
    else:
        _tell(client, body, text)


def on_answer_submitted(ack: Callable, body: dict[str, Any], view: dict[str, Any], services: Services) -> None:
    count = sum(1 for b in view.get("blocks") or [] if b.get("type") == "input") or 3
    try:
        act.submit_answer(services, view_metadata(view), _user(body), _team(body),
                          answers_from(view.get("state") or {}, count))
    except Problem as problem:
        ack(response_action="errors", errors={FIRST_ANSWER_BLOCK: problem.message[:150]})
        return
    ack()  # the answer's thread message and the prompt's edit go out with the dispatcher's next tick
    # After the ack, so no issue tracker ever delays it: the answer is edited to show its links.
    issue_links.link_answer(services, view_metadata(view), _user(body), _team(body))


def on_away_submitted(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any,
                      services: Services) -> None:
    picked = ((view.get("state") or {}).get("values") or {}).get(UNTIL_BLOCK, {}).get(UNTIL_DATE, {})
    try:
        text = act.go_away(services, view_metadata(view), _user(body), body_ids(body).team or "",
                           str(picked.get("selected_date") or ""))
    except Problem as problem:
        ack(response_action="errors", errors={UNTIL_BLOCK: problem.message[:150]})
        return
    ack()
    if text is None:
        deliver_now(services)  # the open prompts now say the member is away
    else:
        _tell(client, body, text)


def on_questions_submitted(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any,
                           services: Services) -> None:
    text = ((view.get("state") or {}).get("values") or {}).get(QUESTIONS_BLOCK, {}).get(TEXT_VALUE, {})
    try:
        questions = act.save_questions(services, _team(body), view_metadata(view), str(text.get("value") or ""))
    except Problem as problem:
        ack(response_action="errors", errors={QUESTIONS_BLOCK: problem.message[:150]})
        return
    ack()
    _tell(client, body, "Standup questions saved:\n" + "\n".join(f"• {x}" for x in questions))


def open_modal(build: Callable[[], dict[str, Any]], body: dict[str, Any], client: Any) -> None:
    try:
        view = build()
    except Problem as problem:
        _tell(client, body, f":warning: {problem.message}")
        return
    client.views_open(trigger_id=body_ids(body).trigger, view=view)


def _user(body: dict[str, Any]) -> str:
    return body_ids(body).user or ""


def _team(body: dict[str, Any]) -> str:
    return body_ids(body).team or ""


def _tell(client: Any, body: dict[str, Any], text: str) -> None:
    """Answer a click in the user's DM with the bot (where the standup buttons live)."""
    client.chat_postMessage(channel=_user(body), text=text)
