"""How a forecast reads in a message. Pure; the reader's time zone and `now` are passed in.

    expected to reach val_acc 0.90 at step ~41k, around Thu 14:00 (range 12:00-17:00)
    projected to plateau at val_acc 0.87 ± 0.01, below the 0.90 target
    not enough data to forecast

Plain text: the caller escapes it for Slack mrkdwn like any other text built from run data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from bot.core.forecast import Forecast, ForecastKind

NOT_ENOUGH_DATA = "not enough data to forecast"


Clock = Callable[[datetime, datetime | None], str]  # (time, the estimate it is a range end of, or None)


def describe(forecast: Forecast, now: datetime, tz: tzinfo | str, clock: Clock | None = None) -> str:
    """One line for the forecast, times in `tz` (an IANA name or a tzinfo), or as `clock` writes
    them (Slack date tokens, shown in each reader's zone)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    rule = forecast.rule
    target = f"{rule.metric} {_target(rule.threshold)}"
    if forecast.kind is ForecastKind.REACHED:
        return f"already at the {target} target"
    if forecast.kind is ForecastKind.PLATEAU and forecast.plateau is not None:
        side = "below" if rule.maximize else "above"
        return f"projected to plateau at {rule.metric} {_plateau(forecast)}, {side} the {_target(rule.threshold)} target"
    if forecast.kind is ForecastKind.REACH and forecast.step is not None:
        return _reach(forecast, target, now, zone, clock)
    return NOT_ENOUGH_DATA


def _reach(forecast: Forecast, target: str, now: datetime, zone: tzinfo, clock: Clock | None = None) -> str:
    step, total = forecast.step, forecast.total_steps
    assert step is not None
    if total is not None and forecast.confident_miss:
        return f"not expected to reach {target} before the run ends at step {compact_step(total)}" \
               f" (projected at step ~{compact_step(step)})"
    text = f"expected to reach {target} at step ~{compact_step(step)}"
    if total is not None and step > total:
        text += f", after the run's last step {compact_step(total)}"
    if forecast.at is None:
        return text + f" ({_step_range(forecast)})"
    if clock is None:
        def clock(at: datetime, anchor: datetime | None) -> str:
            return _when(at, now, zone) if anchor is None else _clock_near(at, anchor, now, zone)
    text += f", around {clock(forecast.at, None)}"
    low = clock(forecast.at_low or forecast.at, forecast.at)
    if forecast.at_high is None:
        return text + f" (from {low}; it may never get there)"
    high = clock(forecast.at_high, forecast.at)
    return text + (f" (range {low}-{high})" if low != high else "")


def _step_range(forecast: Forecast) -> str:
    low = compact_step(forecast.step_low if forecast.step_low is not None else forecast.step or 0)
    if forecast.step_high is None:
        return f"step {low} or later; it may never get there"
    return f"range {low}-{compact_step(forecast.step_high)}"


def compact_step(step: int) -> str:
    """812, 4.5k, 41k, 1.2M: a step count at the precision a forecast deserves."""
    if step < 1000:
        return str(step)
    if step < 10_000:
        return f"{step / 1000:.1f}k".replace(".0k", "k")
    if step < 1_000_000:
        return f"{step / 1000:.0f}k"
    return f"{step / 1_000_000:.1f}M".replace(".0M", "M")


def _when(at: datetime, now: datetime, zone: tzinfo) -> str:
    """"14:00" today, "tomorrow 14:00", "Thu 14:00" within a week, else "2026-12-24 14:00"."""
    local = at.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    clock = local.strftime("%H:%M")
    if days <= 0:
        return clock
    if days == 1:
        return f"tomorrow {clock}"
    if days < 7:
        return f"{local.strftime('%a')} {clock}"
    return f"{local.date().isoformat()} {clock}"


def _clock_near(at: datetime, anchor: datetime, now: datetime, zone: tzinfo) -> str:
    """A range end: just the clock when it falls on the same day as the estimate."""
    if at.astimezone(zone).date() == anchor.astimezone(zone).date():
        return at.astimezone(zone).strftime("%H:%M")
    return _when(at, now, zone)


def _decimals(value: float) -> int:
    """Decimals a threshold was written with (0.9 -> 1, 0.005 -> 3, 12 -> 0), at most 6."""
    text = f"{value:.6f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _target(threshold: float) -> str:
    places = max(_decimals(threshold), 2 if abs(threshold) < 10 else 0)
    return f"{threshold:.{places}f}"


def _plateau(forecast: Forecast) -> str:
    """"0.87 ± 0.01": as many decimals as the ± deserves (its first significant digit)."""
    value, pm = forecast.plateau, forecast.plateau_pm
    assert value is not None
    if pm is None or not math.isfinite(pm):
        return _target(value) if abs(value) < 10 else f"{value:.3g}"
    places = min(max(-math.floor(math.log10(pm)), 0), 6) if pm > 0 else 3
    return f"{value:.{places}f} ± {pm:.{places}f}"
