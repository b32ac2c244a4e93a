"""The review form (modal) and the `Draft` both the form and `/ready review` produce.

The form reuses the command grammar field by field, so `fri 14:00`, `2h` and `prod:3f2a` mean
the same in both places and each field gets its own error message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.commands import RunRef, When
from bot.commands.lexer import Fail, tokenize
from bot.commands.refs import parse_ref, parse_ref_list
from bot.commands.reviews import MAX_LEAD, MAX_TITLE, MIN_LEAD
from bot.commands.timeparse import parse_duration, parse_when
from bot.core.reviews import AUTO_POSTPONE, POLICIES, WARN
from bot.core.row_ids import row_id
from bot.notify.blocks import text_input

REVIEW_MODAL = "review_modal"
# Google Calendar event ids are opaque strings; this only keeps out what cannot be an id.
_EVENT_ID = re.compile(r"[A-Za-z0-9_@.\-]{1,200}")
_POLICY_LABELS = {
    WARN: "Warn the channel and let us decide",
    AUTO_POSTPONE: "Postpone to the latest ETA automatically",
}


@dataclass(frozen=True)
class Draft:
    title: str
    when: When
    runs: tuple[RunRef, ...]
    lead: timedelta | None = None
    policy: str = WARN
    baseline: RunRef | None = None
    gcal_event_id: str | None = None


class FormErrors(Exception):
    """block_id -> message, as Slack shows them under each input (response_action=errors)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(", ".join(errors))
        self.errors = {k: v[:150] for k, v in errors.items()}


def review_modal_view(channel_id: str, prefill_refs: list[str], calendar_sync: bool = False,
                      alert_id: int | None = None, from_home: bool = False) -> dict:
    """The review form for a channel, its runs filled in (the target alert's button uses this).

    Opened from a target alert (`alert_id`), the form asks Slack to tell us when it is closed
    without submitting (notify_on_close, https://api.slack.com/reference/surfaces/views), so
    the alert's "is scheduling a results review" note can be taken back."""
    blocks = [
        _text("title", "Title", "Ablation results"),
        _text("when", "When (your time zone)", "fri 14:00, tomorrow 10:30 or 2026-03-02 15:00"),
        _text("runs", "Runs or experiments", "mlflow:3f2a9c, mlflow:9c1d or mlflow:experiment/ablations",
              initial=", ".join(prefill_refs)),
        _text("lead", "Check this long before", "2h", optional=True, initial="2h"),
        _policy(),
        _text("baseline", "Baseline run to compare with", "mlflow:1a2b", optional=True),
    ]
    if calendar_sync:
        blocks.append(_text("gcal", "Google Calendar event id", "moves with the review", optional=True))
    view = {
        "type": "modal",
        "callback_id": REVIEW_MODAL,
        "private_metadata": (channel_id if alert_id is None else f"{channel_id}{FROM_ALERT}{alert_id}")
        + (FROM_HOME if from_home else ""),
        "title": {"type": "plain_text", "text": "Results review"},
        "submit": {"type": "plain_text", "text": "Schedule"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
    if alert_id is not None:
        view["notify_on_close"] = True
    return view


FROM_ALERT = " alert:"  # private_metadata: "<channel id> alert:<alert id>" for a form an alert opened


FROM_HOME = " home"  # ...and " home" at the end for a form the Home tab opened (Home is redrawn after)


def form_origin(metadata: str) -> tuple[str, int | None]:
    """The channel a review form schedules in, and the target alert that opened it (if any)."""
    channel, _, alert = metadata.removesuffix(FROM_HOME).partition(FROM_ALERT)
    return channel, row_id(alert)


def opened_from_home(metadata: str) -> bool:
    return metadata.endswith(FROM_HOME)


def _text(block_id: str, label: str, placeholder: str, optional: bool = False, initial: str = "") -> dict:
    max_length = MAX_TITLE if block_id == "title" else None
    return text_input(block_id, label, placeholder, optional=optional, initial=initial, max_length=max_length)


def _policy() -> dict:
    options = [{"text": {"type": "plain_text", "text": text}, "value": value}
               for value, text in _POLICY_LABELS.items()]
    return {
        "type": "input",
        "block_id": "policy",
        "label": {"type": "plain_text", "text": "When the runs are late"},
        "element": {"type": "static_select", "action_id": "value", "options": options,
                    "initial_option": options[0]},
    }


def draft_from(values: dict[str, str]) -> Draft:
    """The submitted form as a Draft; FormErrors names every field that is wrong."""
    errors: dict[str, str] = {}

    def field(block_id: str, parse: Callable[[str], Any], default: Any = None) -> Any:
        text = (values.get(block_id) or "").strip()
        if not text:
            return default
        try:
            return parse(text)
        except Fail as exc:
            errors[block_id] = exc.message
            return default

    title = field("title", _title)
    if title is None and "title" not in errors:
        errors["title"] = "Give the review a title"
    when = field("when", lambda t: parse_when(tokenize(t)))
    if when is None and "when" not in errors:
        errors["when"] = "Say when, e.g. fri 14:00"
    runs = field("runs", lambda t: parse_ref_list(tokenize(t), "runs"))
    if runs is None and "runs" not in errors:
        errors["runs"] = "Name at least one run, e.g. mlflow:3f2a9c"
    lead = field("lead", _lead)
    baseline = field("baseline", _one_ref)
    gcal = field("gcal", _event_id)
    policy = values.get("policy") or WARN
    if policy not in POLICIES:
        errors["policy"] = "Choose what to do when runs are late"
    if errors:
        raise FormErrors(errors)
    return Draft(title, when, runs, lead, policy, baseline, gcal)


def _title(text: str) -> str:
    title = " ".join(text.split())
    if len(title) > MAX_TITLE:
        raise Fail(f"At most {MAX_TITLE} characters")
    return title


def _lead(text: str) -> timedelta:
    lead = parse_duration(tokenize(text), "lead")
    if not MIN_LEAD <= lead <= MAX_LEAD:
        raise Fail("Between 1 minute and 7 days, e.g. 2h")
    return lead


def _one_ref(text: str) -> RunRef:
    tokens = tokenize(text)
    if len(tokens) != 1:
        raise Fail("One run, e.g. mlflow:1a2b")
    return parse_ref(tokens[0])


def _event_id(text: str) -> str:
    if not _EVENT_ID.fullmatch(text):
        raise Fail("Paste the event id (letters and digits)")
    return text
