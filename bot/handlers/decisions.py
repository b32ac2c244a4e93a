"""The decision record: the results message's *Record decision* form, what submitting it stores,
and `/ready decisions`.

Anyone in the channel may record a decision (the review is the channel's, and so is what it
decided). The form names the review in its private_metadata; the submission acts only if the
review belongs to the team and channel the form was opened for, as the review form does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.commands import DecisionList
from bot.commands.help import USAGE
from bot.core.decisions import CHOICES, MAX_NOTE, label, metrics_text
from bot.core.row_ids import row_id
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.reviews import public_link
from bot.notify.outbox import enqueue, find
from bot.notify.render import date_token, escape, link
from bot.notify.review_messages import decision_payload
from bot.services import Services
from bot.store import decisions as dq
from bot.store import reviews as rq
from bot.store.models import Review

log = logging.getLogger(__name__)
DECISION_MODAL = "decision_modal"
MAX_OPTIONS = 100  # Slack's cap on a multi_static_select's options
SEP = ":"  # private_metadata: "<channel>:<id>"


@dataclass(frozen=True)
class Submitted:
    choice: str
    note: str
    run_ids: tuple[int, ...]


def choice_and_note(choice: str | None = None, note: str = "") -> list[dict[str, Any]]:
    """The form's decision and note inputs, prefilled when editing a recorded decision.
    https://api.slack.com/reference/block-kit/block-elements#static_select"""
    choices = [{"text": {"type": "plain_text", "text": text}, "value": value} for value, text in CHOICES.items()]
    select: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": choices,
                              "placeholder": {"type": "plain_text", "text": "Choose"}}
    if choice in CHOICES:
        select["initial_option"] = next(c for c in choices if c["value"] == choice)
    text_input: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": True,
                                  "max_length": MAX_NOTE,
                                  "placeholder": {"type": "plain_text", "text": "Why, and what comes next"}}
    if note:
        text_input["initial_value"] = note[:MAX_NOTE]
    return [
        {"type": "input", "block_id": "choice", "label": {"type": "plain_text", "text": "Decision"}, "element": select},
        {"type": "input", "block_id": "note", "optional": True, "label": {"type": "plain_text", "text": "Note"},
         "element": text_input},
    ]


def decision_view(review: Review, runs: list[tuple[int, str]]) -> dict[str, Any]:
    """The form: the decision, a note, and the runs it rests on (all of the review's, prefilled).
    https://api.slack.com/reference/block-kit/block-elements#multi_select"""
    options = [{"text": {"type": "plain_text", "text": name[:75]}, "value": str(run_id)}
               for run_id, name in runs[:MAX_OPTIONS]]
    blocks = choice_and_note()
    if options:
        blocks.append({"type": "input", "block_id": "runs", "label": {"type": "plain_text", "text": "Based on the runs"},
                       "element": {"type": "multi_static_select", "action_id": "value", "options": options,
                                   "initial_options": options}})
    return {
        "type": "modal",
        "callback_id": DECISION_MODAL,
        "private_metadata": f"{review.channel_id}{SEP}{review.id}",
        "title": {"type": "plain_text", "text": "Record decision"},
        "submit": {"type": "plain_text", "text": "Record"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def form_origin(metadata: str) -> tuple[str, int | None]:
    channel, _, review = metadata.rpartition(SEP)
    return channel, row_id(review)


def open_form(services: Services, client: Any, trigger_id: str, team_id: str, channel_id: str,
              review_id: int) -> None:
    with services.store.tx() as s:
        review = _review_here(s, review_id, team_id, channel_id)
        runs = [(run.id, run.name or run.ref) for run, _ in rq.review_runs(s, review.id)]
        view = decision_view(review, runs)
    client.views_open(trigger_id=trigger_id, view=view)


def _review_here(s: Any, review_id: int, team_id: str, channel_id: str) -> Review:
    review = s.get(Review, review_id)
    if review is None or (review.team_id, review.channel_id) != (team_id, channel_id):
        raise Problem(f"There is no review #{review_id} in this channel.", USAGE["reviews"])
    return review


def submitted(view: dict[str, Any]) -> Submitted:
    """The form's values; FormErrors-style dict of block_id -> message when one is wrong."""
    values = (view.get("state") or {}).get("values") or {}
    choice = ((values.get("choice") or {}).get("value") or {}).get("selected_option") or {}
    note = ((values.get("note") or {}).get("value") or {}).get("value") or ""
    picked = ((values.get("runs") or {}).get("value") or {}).get("selected_options") or []
    errors = {}
    if choice.get("value") not in CHOICES:
        errors["choice"] = "Choose the decision"
    if len(note) > MAX_NOTE:
        errors["note"] = f"At most {MAX_NOTE} characters"
    run_ids = tuple(i for o in picked if isinstance(o, dict) and (i := row_id(o.get("value"))) is not None)
    if "runs" in values and not run_ids:
        errors["runs"] = "Choose at least one run"
    if errors:
        raise InvalidForm(errors)
    return Submitted(choice["value"], note.strip(), run_ids)


class InvalidForm(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__(", ".join(errors))
        self.errors = errors


def record(ctx: Ctx, review_id: int, form: Submitted) -> Reply:
    """Store the decision with a frozen copy of its runs and post it in the results' thread."""
    now = ctx.now
    with ctx.store.tx() as s:
        review = _review_here(s, review_id, ctx.team_id, ctx.channel_id)
        linked = rq.review_runs(s, review.id)
        chosen = [(run, conn) for run, conn in linked if run.id in form.run_ids] if form.run_ids else linked
        if form.run_ids and len(chosen) != len(set(form.run_ids)):
            raise Problem(f"Choose runs of review #{review.id} only.", extra={"field": "runs"})
        decision = dq.record(s, team_id=ctx.team_id, channel_id=ctx.channel_id, review_id=review.id,
                             choice=form.choice, note=form.note, runs=chosen, user=ctx.user_id, now=now)
        results_key = f"review:{review.id}:results"
        enqueue(s, key=decision.message_key or f"decision:{decision.id}", team_id=ctx.team_id,
                channel_id=ctx.channel_id, template="decision_recorded", payload=decision_payload(decision, review),
                now=now, parent_key=results_key if find(s, results_key) is not None else None)
        return Reply(f":memo: Recorded decision #{decision.id} on review #{review.id}: *{label(form.choice)}*.")


MAX_SHOWN_RUNS = 5


def list_decisions(ctx: Ctx, cmd: DecisionList) -> Reply:
    with ctx.store.tx() as s:
        rows = dq.channel_decisions(s, ctx.team_id, ctx.channel_id, cmd.last)
        token = rq.calendar_token(s, ctx.team_id, ctx.channel_id)
    exports = export_links(ctx.services, token)
    if not rows:
        return Reply("No decisions recorded in this channel yet: a review's results offer *Record decision*.\n"
                     + exports)
    links = ensure_permalinks(ctx.services, ctx.team_id, [d for d, _ in rows])
    lines = [_line(d, title, links.get(d.id)) for d, title in rows]
    return Reply(f"*Decisions in this channel (newest {len(lines)})*\n" + "\n".join(lines) + "\n" + exports)


def _line(decision: Any, title: str | None, permalink: str | None) -> str:
    head = (f"• #{decision.id} *{escape(label(decision.choice))}* by <@{decision.decided_by}> "
            f"{date_token(decision.decided_at)}")
    if decision.edited_by:
        head += f" (edited by <@{decision.edited_by}> {date_token(decision.edited_at)})"
    if title:
        head += f" on *{escape(title)}*"
    if permalink:
        head += f" · {link(permalink, 'message')}"
    if decision.note:
        head += f"\n    “{escape(' '.join(decision.note.split())[:300])}”"
    for run in decision.runs[:MAX_SHOWN_RUNS]:
        step = f" step {run['step']}" if run.get("step") is not None else ""
        head += f"\n    {escape(run['name'])} `{escape(run['connection'])}`{step}: {escape(metrics_text(run))}"
    if len(decision.runs) > MAX_SHOWN_RUNS:
        head += f"\n    …and {len(decision.runs) - MAX_SHOWN_RUNS} more runs"
    return head


MAX_LOOKUPS = 50  # chat.getPermalink calls per request; a link, once known, is kept


def ensure_permalinks(services: Services, team_id: str, decisions: list[Any]) -> dict[int, str]:
    """decision id -> permalink of its Slack message: stored ones, else asked from
    chat.getPermalink (https://api.slack.com/methods/chat.getPermalink) and stored. A message not
    posted yet, or one Slack cannot link, is listed without its link."""
    found = {d.id: d.permalink for d in decisions if d.permalink}
    missing = [d.id for d in decisions if not d.permalink][:MAX_LOOKUPS]
    if not missing:
        return found
    with services.store.tx() as s:
        posts = {decision_id: _posted(s, f"decision:{decision_id}") for decision_id in missing}
    client = services.clients.for_team(team_id)
    asked: dict[int, str] = {}
    for decision_id, (channel, ts) in posts.items():
        if not channel or not ts:
            continue
        try:
            asked[decision_id] = client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
        except (SlackApiError, KeyError, TypeError):
            log.warning("chat.getPermalink gave no link for decision %s", decision_id)
    if asked:
        with services.store.tx() as s:
            for decision_id, url in asked.items():
                dq.set_permalink(s, decision_id, url)
    return {**found, **asked}


def _posted(s: Any, key: str) -> tuple[str | None, str | None]:
    row = find(s, key)
    return (row.posted_channel or row.channel_id, row.ts) if row is not None and row.ts else (None, None)


def export_links(services: Services, token: str) -> str:
    md, csv = public_link(services, f"/decisions/{token}.md"), public_link(services, f"/decisions/{token}.csv")
    return f"Export: {md} · {csv} (anyone with these links can read them)"
