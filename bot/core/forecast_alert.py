"""When a running run deserves the one "unlikely to reach the target" message. Pure.

The forecaster (bot.core.forecast) already decides what "with confidence" means: a PLATEAU whose
whole 95 % range lies on the wrong side of the target (plateau + its ± below a maximize target,
the mirror for a minimize one), or a crossing whose whole range lies after the run's last step.
This module adds the rest of the rule: only for a run still running, only on a forecast made
from enough points (an UNKNOWN forecast never alerts), and never for a muted target. "Once per
run and target" is the outbox key (bot.jobs.forecasts), not this function.
"""

from __future__ import annotations

from bot.core.forecast import Forecast, ForecastKind

RUNNING = "running"


def unlikely(forecast: Forecast, run_state: str, muted: bool = False) -> bool:
    """True when the channel should be told the run is unlikely to reach the target."""
    if muted or run_state != RUNNING:
        return False
    if forecast.kind not in (ForecastKind.PLATEAU, ForecastKind.REACH):
        return False
    if not forecast.confident_miss:
        return False
    if forecast.kind is ForecastKind.PLATEAU:
        return _plateau_misses(forecast)
    return forecast.total_steps is not None  # a crossing after the end: only when the end is known


def _plateau_misses(forecast: Forecast) -> bool:
    """The plateau and the near edge of its range are both on the wrong side of the target."""
    if forecast.plateau is None:
        return False
    pm = forecast.plateau_pm or 0.0
    rule = forecast.rule
    edge = forecast.plateau + pm if rule.maximize else forecast.plateau - pm
    return not rule.holds(edge)
