"""Review messages: the payloads the outbox stores and the buttons the warning carries.

Times go into payloads as ISO strings and reach Slack as date tokens (`|ago`), so every reader
sees the meeting and the ETAs in their own time zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.core.decisions import label, metrics_text
from bot.core.eta import format_duration, progress_fraction, stalled_for
from bot.core.results import Cell, Table
from bot.core.words import plural
from bot.notify.blocks import actions, button
from bot.notify.render import Message, format_number, render
from bot.store.models import Connection, Decision, Review, Run
from bot.store.reviews import status

POSTPONE, HOLD, CANCEL = "review_postpone", "review_hold", "review_cancel"
RECORD_DECISION = "review_record_decision"
NAME_WIDTH = 28


def review_info(review: Review) -> dict[str, Any]:
    return {"id": review.id, "title": review.title, "at": review.at.isoformat(), "state": review.state,
            "lead_minutes": review.lead_minutes, "buffer": format_duration(timedelta(minutes=review.buffer_minutes))}


def run_info(run: Run, conn: Connection, now: datetime) -> dict[str, Any]:
    frac = progress_fraction(run.step, run.total_steps)
    eta = status(run).known_eta
    return {
        "id": run.id,
        "name": run.name or run.ref,
        "url": run.url,
        "state": run.state,
        "connection": conn.name,
        "progress": f"step {run.step}/{run.total_steps} ({frac:.0%})" if frac is not None else None,
        "eta": eta.isoformat() if eta else None,
        "eta_in": format_duration(eta - now) if eta and eta > now else None,
        "stalled": stalled_for(now, run.heartbeat_at, run.progress_at)
        if run.state == "stalled" else None,
    }


def warning_payload(review: Review, runs: list[tuple[Run, Connection]], now: datetime,
                    postpone_to: datetime | None = None, auto_from: datetime | None = None) -> dict[str, Any]:
    waiting = [run_info(r, c, now) for r, c in runs if not status(r).finished and not status(r).broken]
    broken = [run_info(r, c, now) for r, c in runs if status(r).broken]
    return {
        "review": review_info(review),
        "starts_in": format_duration(review.at - now),
        "finished": sum(1 for r, _ in runs if status(r).finished),
        "total": len(runs),
        "waiting": waiting[:30],
        "broken": broken[:30],
        "postpone_to": postpone_to.isoformat() if postpone_to else None,
        "auto": {"from": auto_from.isoformat(), "to": review.at.isoformat()} if auto_from else None,
        "decision": None,
        "last_decision": None,
    }


def decided(payload: dict[str, Any], what: str, user: str, at: datetime | None = None) -> dict[str, Any]:
    """The warning again, now saying who decided what; its buttons go (see build_warning)."""
    return {**payload, "decision": {"what": what, "user": user, "at": at.isoformat() if at else None}}


def build_warning(payload: dict[str, Any]) -> Message:
    message = render("review_warning", **payload)
    # The header alone ("Not ready: <title>") is all a notification would show; add the count.
    message.text += f" ({payload['finished']} of {plural(payload['total'], 'run')} finished)"
    if payload.get("decision") is None:
        message.blocks.append(actions(*_buttons(payload), block_id=f"review-{payload['review']['id']}"))
    return message


def _buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    value = str(payload["review"]["id"])
    found = []
    if payload.get("postpone_to") and not payload.get("auto"):
        found.append(button("Postpone to ETA", POSTPONE, value, style="primary"))
    if not payload.get("auto"):
        # "Hold" would be ambiguous here: readybot *holds* reviews until their runs are done.
        found.append(button("Meet as planned", HOLD, value))
    found.append(button("Cancel review", CANCEL, value, style="danger"))
    return found


def results_payload(review: Review, table: Table, now: datetime) -> dict[str, Any]:
    return {
        "review": review_info(review),
        "upcoming": review.at > now,
        "total": len(table.rows),
        "table": table_lines(table),
        "goals": list(table.goals),
        "baseline": table.baseline.name if table.baseline else None,
        "last_decision": None,
    }


def decision_info(decision: Decision | None) -> dict[str, Any] | None:
    """The last decision on a review's runs, as its messages show it ("last time: ...")."""
    if decision is None:
        return None
    return {"id": decision.id, "choice": label(decision.choice), "user": decision.decided_by,
            "at": decision.decided_at.isoformat(), "note": (decision.note or "")[:300]}


def build_results(payload: dict[str, Any]) -> Message:
    """The results table, ending with the button that records what the review decided."""
    message = render("review_results", **payload)
    review_id = str(payload["review"]["id"])
    message.blocks.append(actions(button("Record decision", RECORD_DECISION, review_id, style="primary"),
                                  block_id=f"review-results-{review_id}"))
    return message


def table_lines(table: Table) -> list[str]:
    """A monospace table: run, then one column per metric (✓/✗ against the target, change vs
    the baseline in brackets)."""
    head = ["run", *table.metrics]
    body = [[_short(row.name), *(_cell(c) for c in row.cells)] for row in table.rows]
    if table.baseline is not None:
        body.append([_short(f"baseline: {table.baseline.name}"), *(_cell(c) for c in table.baseline.cells)])
    grid = [head, *body]
    widths = [max(len(line[i]) for line in grid) for i in range(len(head))]
    return ["  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip() for line in grid]


def _cell(cell: Cell) -> str:
    text = format_number(cell.value)
    if cell.meets is not None:
        text += " ✓" if cell.meets else " ✗"
    if cell.delta is not None:
        text += f" ({'+' if cell.delta >= 0 else ''}{format_number(cell.delta)})"
    return text


def _short(name: str) -> str:
    return name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"


def decision_payload(decision: Decision, review: Review) -> dict[str, Any]:
    runs = [{"name": r["name"], "url": r.get("url"), "connection": r["connection"], "state": r["state"],
             "step": r.get("step"), "metrics_text": metrics_text(r)} for r in decision.runs[:30]]
    return {"id": decision.id, "user": decision.decided_by, "choice": label(decision.choice),
            "note": " ".join((decision.note or "").split()), "review": {"id": review.id, "title": review.title},
            "runs": runs}


def build_decision(payload: dict[str, Any]) -> Message:
    message = render("decision_recorded", **payload)
    message.text = f"Decision on review #{payload['review']['id']}: {payload['choice']}"
    if payload.get("removed_by"):  # `/ready decisions remove` (bot.handlers.decision_edits)
        message.text = f"Decision #{payload['id']} on review #{payload['review']['id']} was removed"
    return message
