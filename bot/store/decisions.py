"""Decision records: written once with a frozen copy of their runs, read per (team, channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.decisions import frozen_values
from bot.store.models import Connection, Decision, DecisionRun, Review, Run

MAX_EXPORT = 1000  # the newest decisions an export holds


def frozen_run(run: Run, conn: Connection) -> dict[str, Any]:
    """The run as the decision saw it; later polls change the run row, never this copy."""
    return {"run_id": run.id, "name": run.name or run.ref, "ref": run.ref, "connection": conn.name,
            "state": run.state, "step": run.step, "url": run.url,
            "metrics": frozen_values(run.metrics), "params": frozen_values(run.params)}


def record(s: Session, *, team_id: str, channel_id: str, review_id: int | None, choice: str, note: str,
           runs: list[tuple[Run, Connection]], user: str, now: datetime) -> Decision:
    decision = Decision(team_id=team_id, channel_id=channel_id, review_id=review_id, choice=choice, note=note,
                        runs=[frozen_run(run, conn) for run, conn in runs], decided_by=user, decided_at=now)
    s.add(decision)
    s.flush()
    decision.message_key = f"decision:{decision.id}"
    for run_id in dict.fromkeys(run.id for run, _ in runs):
        s.add(DecisionRun(decision_id=decision.id, run_id=run_id))
    return decision


def channel_decisions(s: Session, team_id: str, channel_id: str, limit: int) -> list[tuple[Decision, str | None]]:
    """The newest `limit` decisions of the channel, each with its review's title."""
    rows = s.execute(
        select(Decision, Review.title).outerjoin(Review, Review.id == Decision.review_id)
        .where(Decision.team_id == team_id, Decision.channel_id == channel_id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc()).limit(limit)
    )
    return [(d, title) for d, title in rows]


def last_on_runs(s: Session, team_id: str, channel_id: str, run_ids: list[int],
                 before: datetime | None = None) -> Decision | None:
    """The newest decision of the channel that cites any of these runs."""
    if not run_ids:
        return None
    cites = select(DecisionRun.decision_id).where(DecisionRun.run_id.in_(run_ids))
    query = select(Decision).where(Decision.team_id == team_id, Decision.channel_id == channel_id,
                                   Decision.id.in_(cites))
    if before is not None:
        query = query.where(Decision.decided_at < before)
    return s.scalar(query.order_by(Decision.decided_at.desc(), Decision.id.desc()).limit(1))


def decision_here(s: Session, decision_id: int, team_id: str, channel_id: str, lock: bool = False) -> Decision | None:
    """The decision, if it belongs to this team and channel (a row id from elsewhere is not found)."""
    query = select(Decision).where(Decision.id == decision_id, Decision.team_id == team_id,
                                   Decision.channel_id == channel_id)
    return s.scalar(query.with_for_update() if lock else query)


def set_permalink(s: Session, decision_id: int, url: str) -> None:
    decision = s.get(Decision, decision_id)
    if decision is not None:
        decision.permalink = url


def export_row(d: Decision, review_title: str | None, permalink: str | None) -> dict[str, Any]:
    """A decision as the plain dict the exports format."""
    return {"id": d.id, "choice": d.choice, "note": d.note or "", "decided_by": d.decided_by,
            "decided_at": d.decided_at.isoformat(), "review_title": review_title or "", "permalink": permalink,
            "runs": d.runs or [], "edited_by": d.edited_by or "",
            "edited_at": d.edited_at.isoformat() if d.edited_at else ""}
