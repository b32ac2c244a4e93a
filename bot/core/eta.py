"""Run progress and ETA from step counts, and how to say them in a message. Pure; `now` passed in."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

# Recent samples used for the rate: a run's speed changes (eval phases, preemption, a resumed
# job on other hardware), so the last few samples predict better than the average since start.
RECENT_SAMPLES = 5


def progress_fraction(step: int | None, total: int | None) -> float | None:
    """step / total clamped to [0, 1]; None when there is no step or no positive total."""
    if step is None or total is None or total <= 0:
        return None
    return min(max(step / total, 0.0), 1.0)


def estimate_eta(
    step: int | None,
    total_steps: int | None,
    started_at: datetime | None,
    now: datetime,
    history: Sequence[tuple[datetime, int]] = (),
) -> datetime | None:
    """When the run should reach `total_steps`, or None when that is unknowable.

    The rate is taken from the last few (time, step) samples of `history` (at or before `now`)
    when they show progress, else from the average since `started_at`. A run at or past its
    total returns `now` (done any moment). The result is never before `now`.
    """
    if step is None or total_steps is None or total_steps <= 0 or step < 0:
        return None
    if step >= total_steps:
        return now
    rate = _recent_rate(history, now) or _average_rate(step, started_at, now)
    if not rate:
        return None
    try:
        eta = now + timedelta(seconds=(total_steps - step) / rate)
    except OverflowError:  # so slow that the date is out of range: as good as unknown
        return None
    return max(eta, now)


def _recent_rate(history: Sequence[tuple[datetime, int]], now: datetime) -> float | None:
    """Steps per second over the last RECENT_SAMPLES samples; None without forward progress."""
    samples = sorted((t, s) for t, s in history if t <= now)[-RECENT_SAMPLES:]
    if len(samples) < 2:
        return None
    (t0, s0), (t1, s1) = samples[0], samples[-1]
    seconds = (t1 - t0).total_seconds()
    if seconds <= 0 or s1 <= s0:
        return None
    return _positive((s1 - s0) / seconds)


def _average_rate(step: int, started_at: datetime | None, now: datetime) -> float | None:
    if started_at is None or step <= 0:
        return None
    seconds = (now - started_at).total_seconds()
    return _positive(step / seconds) if seconds > 0 else None


def _positive(rate: float) -> float | None:
    return rate if math.isfinite(rate) and rate > 0 else None


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(td: timedelta) -> str:
    """The two largest non-zero units, rounded down: "3d 4h", "2h 10m", "5m 30s", "45s", "0s".

    A negative duration gets a leading "-".
    """
    seconds = int(td.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    for i, (name, size) in enumerate(_UNITS):
        if seconds >= size:
            text = f"{seconds // size}{name}"
            if i + 1 < len(_UNITS):
                sub_name, sub_size = _UNITS[i + 1]
                rest = (seconds % size) // sub_size
                if rest:
                    text += f" {rest}{sub_name}"
            return sign + text
    return "0s"


def has_eta(state: str) -> bool:
    """Only a running run has an ETA: a stalled one is not moving, a queued one has not started,
    and an ended one has nothing left to wait for."""
    return state == "running"


def stalled_for(now: datetime, *signs_of_life: datetime | None) -> str:
    """What a stalled run shows instead of an ETA: "stalled 25 min", "stalled 3h 10m", counted
    from the newest sign of life (its last step, its last heartbeat)."""
    alive_at = max(filter(None, signs_of_life), default=None)
    if alive_at is None:
        return "stalled"
    quiet = max(now - alive_at, timedelta(0))
    if quiet < timedelta(hours=1):
        return f"stalled {int(quiet.total_seconds() // 60)} min"
    return f"stalled {format_duration(quiet)}"


def format_eta(eta: datetime | None, now: datetime, tz: tzinfo | str) -> str:
    """The ETA in the reader's time zone, with how long until then.

    Same local day: "16:10 (in 2h 10m)"; next day: "tomorrow 09:00 (in 14h 50m)"; within a
    week: "Wed 09:00 (in 3d 2h)"; later: "2025-03-14 09:00 (in 12d 3h)". None -> "unknown";
    an ETA not after `now` -> "now".
    """
    if eta is None:
        return "unknown"
    if eta <= now:
        return "now"
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local, today = eta.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    clock = local.strftime("%H:%M")
    if days == 0:
        when = clock
    elif days == 1:
        when = f"tomorrow {clock}"
    elif days < 7:
        when = f"{local.strftime('%a')} {clock}"
    else:
        when = f"{local.date().isoformat()} {clock}"
    return f"{when} (in {format_duration(eta - now)})"
