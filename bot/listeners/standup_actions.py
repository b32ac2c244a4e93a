"""Standup buttons (answer, skip, away, edit questions) and their modals.

Buttons ack first and then open the modal: a trigger_id is only good for 3 seconds, and the
lookups before views.open are single-row reads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.handlers import standup_actions as act
from bot.handlers.base import Problem
from bot.handlers.schedules import EDIT_QUESTIONS
from bot.notify.standup_messages import (
    ANSWER,
    ANSWER_VIEW,
    AWAY,
    AWAY_VIEW,
    QUESTIONS_VIEW,
    SKIP,
    answers_from,
)
from bot.services import Services

log = logging.getLogger(__name__)


def _user(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("id", "")


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def _tell(client: Any, body: dict[str, Any], text: str) -> None:
    """Answer a click in the user's DM with the bot (where the standup buttons live)."""
    client.chat_postMessage(channel=_user(body), text=text)


def register(app: App, services: Services) -> None:
    def open_modal(build: Callable[[], dict[str, Any]], body: dict[str, Any], client: Any) -> None:
        try:
            view = build()
        except Problem as problem:
            _tell(client, body, f":warning: {problem.message}")
            return
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(ANSWER)
    def on_answer(ack: Callable, body: dict[str, Any], client: Any) -> None:
        ack()
        open_modal(lambda: act.answer_modal(services, _value(body), _user(body)), body, client)

    @app.action(AWAY)
    def on_away(ack: Callable, body: dict[str, Any], client: Any) -> None:
        ack()
        open_modal(lambda: act.away_modal(services, _value(body), _user(body)), body, client)

    @app.action(EDIT_QUESTIONS)
    def on_edit_questions(ack: Callable, body: dict[str, Any], client: Any) -> None:
        ack()
        open_modal(lambda: act.questions_modal(services, _value(body)), body, client)

    @app.action(SKIP)
    def on_skip(ack: Callable, body: dict[str, Any], client: Any) -> None:
        ack()
        try:
            text = act.skip(services, _value(body), _user(body))
        except Problem as problem:
            text = f":warning: {problem.message}"
        container = body.get("container") or {}
        if container.get("channel_id") and container.get("message_ts"):
            # The prompt becomes its outcome, so its buttons cannot be clicked again.
            client.chat_update(channel=container["channel_id"], ts=container["message_ts"], text=text,
                               blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
        else:
            _tell(client, body, text)

    @app.view(ANSWER_VIEW)
    def on_answer_submitted(ack: Callable, body: dict[str, Any], view: dict[str, Any]) -> None:
        count = sum(1 for b in view.get("blocks") or [] if b.get("type") == "input") or 3
        try:
            act.submit_answer(services, view.get("private_metadata", ""), _user(body),
                              answers_from(view.get("state") or {}, count))
        except Problem as problem:
            ack(response_action="errors", errors={"q0": problem.message[:150]})
            return
        ack()

    @app.view(AWAY_VIEW)
    def on_away_submitted(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        picked = ((view.get("state") or {}).get("values") or {}).get("until", {}).get("date", {})
        try:
            text = act.go_away(services, view.get("private_metadata", ""), _user(body),
                               (body.get("team") or {}).get("id", ""), str(picked.get("selected_date") or ""))
        except Problem as problem:
            ack(response_action="errors", errors={"until": problem.message[:150]})
            return
        ack()
        _tell(client, body, text)

    @app.view(QUESTIONS_VIEW)
    def on_questions_submitted(ack: Callable, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        text = ((view.get("state") or {}).get("values") or {}).get("questions", {}).get("value", {})
        try:
            questions = act.save_questions(services, view.get("private_metadata", ""), str(text.get("value") or ""))
        except Problem as problem:
            ack(response_action="errors", errors={"questions": problem.message[:150]})
            return
        ack()
        _tell(client, body, "Standup questions saved:\n" + "\n".join(f"• {x}" for x in questions))
