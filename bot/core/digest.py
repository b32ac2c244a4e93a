"""A channel digest: what the tracked runs did since the last digest, what is still training,
how close the team is to each target, and whether upcoming reviews have their results.

Pure: facts and `now` in, a JSON-able dict out (it is stored as the outbox payload and rendered
by templates/digest.j2). Each list is capped and the rest counted, so a channel with hundreds
of runs gets a readable digest; the dispatcher splits whatever is still too long for Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.eta import format_duration, format_eta, has_eta, progress_fraction, stalled_for
from bot.core.facts import ReviewFacts, RunFacts, TargetFacts
from bot.core.reviews import UPCOMING, RunStatus, Verdict, readiness
from bot.core.targets import Rule, best_so_far, is_finite

MAX_PER_SECTION = 40
MAX_REVIEWS = 10
FAILED = ("failed", "killed")


def assemble(
    runs: Sequence[RunFacts],
    targets: Sequence[TargetFacts],
    reviews: Sequence[ReviewFacts],
    since: datetime | None,
    now: datetime,
    tz: str = "UTC",
) -> dict[str, Any]:
    def ended(r: RunFacts) -> bool:
        return since is None or (r.changed_at is not None and r.changed_at >= since)

    finished = [r for r in runs if r.state == "finished" and ended(r)]
    failed = [r for r in runs if r.state in FAILED and ended(r)]
    stalled = sorted((r for r in runs if r.state == "stalled"), key=lambda r: _ts(r.progress_at))
    running = sorted((r for r in runs if r.state in ("running", "queued")), key=_eta_order)
    newest_first = sorted(finished, key=lambda r: _ts(r.changed_at), reverse=True)
    sections = {
        "finished": newest_first,
        "failed": sorted(failed, key=lambda r: _ts(r.changed_at), reverse=True),
        "stalled": stalled,
        "running": running,
    }
    digest: dict[str, Any] = {
        "since": since.isoformat() if since else None,
        "now": now.isoformat(),
        "total": len(runs),
        "targets": [target_line(t, runs) for t in targets],
        "reviews": [review_line(r) for r in upcoming(reviews, now)[:MAX_REVIEWS]],
    }
    for name, rows in sections.items():
        digest[name] = [run_line(r, now, tz) for r in rows[:MAX_PER_SECTION]]
        digest[f"{name}_more"] = max(0, len(rows) - MAX_PER_SECTION)
        digest[f"{name}_count"] = len(rows)
    digest["empty"] = not any(sections.values()) and not digest["targets"] and not digest["reviews"]
    return digest


def _ts(at: datetime | None) -> float:
    return at.timestamp() if at else 0.0


def _eta_order(run: RunFacts) -> tuple[int, float, str]:
    # Runs with an ETA first, soonest first; then the rest by name.
    return (0, run.eta.timestamp(), run.name) if run.eta else (1, 0.0, run.name)


def run_line(run: RunFacts, now: datetime, tz: str) -> dict[str, Any]:
    frac = progress_fraction(run.step, run.total_steps)
    metrics = [(k, v) for k, v in sorted((run.metrics or {}).items()) if isinstance(v, int | float)][:2]
    return {
        "id": run.id,
        "name": run.name,
        "url": run.url,
        "connection": run.connection,
        "owner": run.owner,
        "kind": run.kind,
        "state": run.state,
        "step": run.step,
        "total_steps": run.total_steps,
        "pct": frac,
        "eta": format_eta(run.eta, now, tz) if run.eta and has_eta(run.state) else None,
        # For a date token, so each reader sees the ETA in their own zone.
        "eta_at": run.eta.isoformat() if run.eta and has_eta(run.state) else None,
        "eta_in": format_duration(run.eta - now) if run.eta and has_eta(run.state) and run.eta > now else None,
        "stalled": stalled_for(now, run.progress_at) if run.state == "stalled" else None,
        "metrics": [{"key": k, "value": float(v)} for k, v in metrics],
        "stale": run.stale_since is not None,
        "at": run.changed_at.isoformat() if run.changed_at else None,
    }


def target_line(target: TargetFacts, runs: Sequence[RunFacts]) -> dict[str, Any]:
    """The best value any run in scope reached, against the target (Rule decides "better")."""
    rule = Rule(target.metric, target.op, target.threshold, max(1, target.patience))
    by_id = {r.id: r for r in runs}
    candidates: list[tuple[float, RunFacts]] = []
    for run_id in target.run_ids:
        run = by_id.get(run_id)
        values = [v for v in (target.bests.get(run_id), (run.metrics or {}).get(rule.metric) if run else None)
                  if isinstance(v, int | float) and is_finite(v)]
        best = best_so_far(rule, values)
        if run is not None and best is not None:
            candidates.append((best, run))
    best = best_so_far(rule, [v for v, _ in candidates])
    leader = next((run for v, run in candidates if v == best), None)
    return {
        "rule": rule.describe(),
        "best": best,
        "run": leader.name if leader else None,
        "url": leader.url if leader else None,
        "met": best is not None and rule.holds(best),
        "runs": len(target.run_ids),
    }


def upcoming(reviews: Sequence[ReviewFacts], now: datetime) -> list[ReviewFacts]:
    live = [r for r in reviews if r.at >= now and r.state in UPCOMING]
    return sorted(live, key=lambda r: r.at)


def review_line(review: ReviewFacts) -> dict[str, Any]:
    """Readiness as reviews decide it: ready when every linked run has finished."""
    ready = readiness([RunStatus(name="", state=state) for state in review.run_states])
    return {
        "title": review.title,
        "at": review.at.isoformat(),
        "ready": ready.total > 0 and ready.verdict is Verdict.READY,
        "done": ready.finished,
        "total": ready.total,
        "failed": len(ready.broken),
    }
