"""`/ready decisions edit <id>` (the decision form again, prefilled) and `/ready decisions remove <id>`.

A decision is its recorder's: only whoever recorded it, or a workspace admin, may change or
remove it (bot.handlers.permissions; asked before any transaction, since it may ask Slack, and
asked again when the edit form is submitted). An edit changes the decision and its note, never
the runs: their frozen metrics are the record of what the decision rested on. Who edited it and
when is stored and shown; the decision's message in the results' thread is edited through the
outbox to match, and a removed decision's message says it was removed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from bot.commands import DecisionEdit, DecisionRemove
from bot.commands.help import USAGE
from bot.core.decisions import label
from bot.handlers import permissions
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.decisions import SEP, Submitted, choice_and_note, form_origin
from bot.notify.outbox import edit
from bot.notify.render import escape
from bot.store import decisions as dq
from bot.store.models import Decision, Outbox

DECISION_EDIT_MODAL = "decision_edit_modal"
ROLE = "who recorded it"


def open_edit(ctx: Ctx, cmd: DecisionEdit) -> Reply:
    if ctx.client is None or not ctx.trigger_id:
        raise Problem("Cannot open the form here.", USAGE["decisions"])
    decided_by = _recorder(ctx, cmd.id)
    permissions.require_one_of(ctx.services, ctx.team_id, ctx.user_id, [decided_by], f"edit decision #{cmd.id}",
                               ROLE)
    with ctx.store.tx() as s:
        decision = _here(s, ctx, cmd.id)
        view = edit_view(decision, ctx.channel_id)
    ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)
    return Reply("")


def edit_view(decision: Decision, channel_id: str) -> dict[str, Any]:
    """The decision form prefilled, the runs shown as recorded (they cannot be changed)."""
    runs = ", ".join(str(r.get("name")) for r in (decision.runs or [])[:20]) or "no runs"
    blocks = choice_and_note(decision.choice, decision.note or "")
    blocks.append({"type": "context", "elements": [
        {"type": "plain_text", "text": f"Based on the runs, as they were when it was recorded: {runs}"[:2000]}]})
    return {
        "type": "modal",
        "callback_id": DECISION_EDIT_MODAL,
        "private_metadata": f"{channel_id}{SEP}{decision.id}",
        "title": {"type": "plain_text", "text": f"Edit decision #{decision.id}"[:24]},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def edit_origin(metadata: str) -> tuple[str, int | None]:
    """The channel and decision id an edit form carries: the same shape as the record form's."""
    return form_origin(metadata)


def save_edit(ctx: Ctx, decision_id: int, form: Submitted) -> Reply:
    """The edit form's submission: the new decision and note, with who edited it and when."""
    decided_by = _recorder(ctx, decision_id)
    permissions.require_one_of(ctx.services, ctx.team_id, ctx.user_id, [decided_by], f"edit decision #{decision_id}",
                               ROLE)
    now = ctx.now
    with ctx.store.tx() as s:
        decision = _here(s, ctx, decision_id, lock=True)
        if (decision.choice, decision.note or "") == (form.choice, form.note):
            return Reply(f"Decision #{decision_id} already says that; nothing was changed.")
        decision.choice, decision.note = form.choice, form.note
        decision.edited_by, decision.edited_at = ctx.user_id, now
        _edit_message(s, decision, {"choice": label(form.choice), "note": " ".join(form.note.split()),
                                    "edited_by": ctx.user_id}, now)
    return Reply(f":pencil2: Decision #{decision_id} now says *{escape(label(form.choice))}*.")


def remove(ctx: Ctx, cmd: DecisionRemove) -> Reply:
    decided_by = _recorder(ctx, cmd.id)
    permissions.require_one_of(ctx.services, ctx.team_id, ctx.user_id, [decided_by], f"remove decision #{cmd.id}",
                               ROLE)
    with ctx.store.tx() as s:
        decision = dq.decision_here(s, cmd.id, ctx.team_id, ctx.channel_id, lock=True)
        if decision is None:
            raise Problem(f"Decision #{cmd.id} was just removed.")
        shown = label(decision.choice)
        _edit_message(s, decision, {"removed_by": ctx.user_id}, ctx.now)
        s.execute(delete(Decision).where(Decision.id == cmd.id))  # its decision_runs go with it (CASCADE)
    return Reply(f":wastebasket: Removed decision #{cmd.id} (*{escape(shown)}*).")


def _recorder(ctx: Ctx, decision_id: int) -> str:
    with ctx.store.tx() as s:
        return _here(s, ctx, decision_id).decided_by


def _here(s: Any, ctx: Ctx, decision_id: int, lock: bool = False) -> Decision:
    decision = dq.decision_here(s, decision_id, ctx.team_id, ctx.channel_id, lock)
    if decision is None:
        raise Problem(f"There is no decision #{decision_id} in this channel; see `/ready decisions`.",
                      USAGE["decisions"])
    return decision


def _edit_message(s: Any, decision: Decision, changes: dict[str, Any], now: Any) -> None:
    """Edit the decision's message in the results' thread, if it was queued (it may not be posted yet:
    the outbox then posts the edited payload)."""
    key = decision.message_key or f"decision:{decision.id}"
    query = select(Outbox).where(Outbox.dedupe_key == key).with_for_update()
    message = s.scalars(query.execution_options(populate_existing=True)).first()
    if message is None:
        return
    payload = {**(message.payload or {}), **changes}
    edit(s, message, payload, f"{key}:edit:{now.isoformat()}", now)
