"""The "unlikely to reach the target" message, in the run pipeline next to the target alerts.

Called by bot.jobs.targets once a (target, run) has been evaluated, inside the same
transaction. The fit is the expensive part, so it runs only when that evaluation saw new points,
and never again once the message exists: the outbox key (one per target and run) is the whole
"once" rule; a run muted for the target (the progress row's muted_by) is never fitted. The
history is the run's kept points (bot.store.points: pushed values, and the points polls
fetched), at most points.MAX_POINTS per metric, thinned further by the forecaster.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.forecast import Forecast, ForecastKind
from bot.core.forecast_alert import unlikely
from bot.core.forecast_text import describe
from bot.fits import FitCache, FitKey, fit, key_of
from bot.notify.forecast_alert import TEMPLATE, forecast_line
from bot.notify.outbox import enqueue
from bot.notify.run_messages import run_payload
from bot.store import points as kept
from bot.store import targets as store
from bot.store.models import Connection, Outbox, Run, Target


def message_key(target_id: int, run_id: int) -> str:
    return f"forecast-unlikely:{target_id}:{run_id}"


def run_forecast(s: Session, target: Target, run: Run, now: datetime) -> Forecast:
    """The forecast of `run` against `target` from its kept points (bounded per run)."""
    history = kept.history(s, [run.id], target.metric).get(run.id, [])
    return fit(history, store.rule_of(target), now, run.total_steps)


def run_line(s: Session, run: Run, team_id: str, channel_id: str, now: datetime, unknown: bool = True) -> str | None:
    """":crystal_ball: expected to reach val_acc 0.90 at step ~41k, ..." (Slack mrkdwn) for a
    running run, against the first of this channel's targets on it whose metric it logs; None when there is no
    such target, or (unknown=False, for the digest's short rows) when there is not enough data."""
    if run.state != "running":
        return None
    target = next((t for t in store.targets_for_run(s, run)
                   if (t.team_id, t.channel_id) == (team_id, channel_id) and t.metric in (run.metrics or {})), None)
    if target is None:
        return None
    projected = run_forecast(s, target, run, now)
    if not unknown and projected.kind is ForecastKind.UNKNOWN:
        return None
    return _line(projected, now)


def listing_lines(s: Session, fits: FitCache, team_id: str, channel_id: str, run_ids: list[int],
                  now: datetime) -> dict[int, str]:
    """run_line (unknown=True) for many runs of one channel's listing: one statement for their
    targets and kept-point counts, and one more for the histories of the runs whose kept fit
    is out of date (new points) or missing; the others reuse their fit (bot/fits.py)."""
    shown = store.shown_targets(s, team_id, channel_id, run_ids)
    keys = {run_id: FitKey(run_id, t.rule, t.total_steps, t.points, t.last_step) for run_id, t in shown.items()}
    projected = {run_id: found for run_id, key in keys.items() if (found := fits.get(key, now)) is not None}
    stale = [run_id for run_id in keys if run_id not in projected]
    histories = kept.histories(s, [(run_id, keys[run_id].rule.metric) for run_id in stale])
    for run_id in stale:
        rule, total = keys[run_id].rule, keys[run_id].total_steps
        history = histories.get((run_id, rule.metric), [])
        projected[run_id] = fit(history, rule, now, total)
        # Kept under what was read: a point that arrived since the count makes its own key.
        fits.put(key_of(run_id, rule, total, history), projected[run_id], now)
    return {run_id: _listing_line(projected[run_id], now) for run_id in run_ids if run_id in projected}


def _line(projected: Forecast, now: datetime) -> str:
    return f":crystal_ball: {forecast_line(projected, now)}"


def _listing_line(projected: Forecast, now: datetime) -> str:
    """_line, kept by the forecast: the same kept fits are listed on every `/ready runs`."""
    try:
        return _kept_line(projected)
    except TypeError:  # a forecast that cannot be a key
        return _line(projected, now)


@functools.lru_cache(maxsize=4096)
def _kept_line(projected: Forecast) -> str:
    # The line writes its times as Slack date tokens, from the forecast's own times (as_of has
    # moved any past one to now): it never reads the clock, so the forecast alone is its key.
    return _line(projected, _CLOCK_UNREAD)


_CLOCK_UNREAD = datetime.min.replace(tzinfo=UTC)  # forecast_line's `now`, which its date tokens never read


def check(s: Session, conn: Connection, target: Target, run: Run, state: str, now: datetime,
          muted: bool = False) -> bool:
    """Queue the message when the run is now projected, with confidence, to miss; True if queued.
    `muted`: the run is muted for this target."""
    if state != "running" or target.muted_by or muted:
        return False
    key = message_key(target.id, run.id)
    if s.scalar(select(Outbox.id).where(Outbox.dedupe_key == key)) is not None:
        return False  # said once already (or muted): no need to fit again
    projected = run_forecast(s, target, run, now)
    if not unlikely(projected, state, muted):
        return False
    payload = {**run_payload(conn, run, now), "target_id": target.id, "metric": target.metric,
               "op": target.op, "threshold": float(target.threshold),
               "forecast": describe(projected, now, "UTC"), "log": []}
    return enqueue(s, key=key, team_id=target.team_id, channel_id=target.channel_id, template=TEMPLATE,
                   payload=payload, now=now)
