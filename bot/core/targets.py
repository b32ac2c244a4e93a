"""Target rules: when a run's metric crosses the team's threshold, and when its loss blows up.

Pure functions over `MetricPoint`s; the caller stores the returned `TargetProgress` per
(target, run) and writes one outbox row per `Crossing`, keyed by (target, run, crossing.number).

Semantics (after Prometheus `for:` plus Alertmanager-style anti-flapping):
- a value is *new* when it comes after the last one evaluated in (step, time) order: a later
  step, or the same step logged later (MLflow logs a metric without an explicit step at step 0
  every time). Points already evaluated are ignored, so re-fetching history from an inclusive
  start step is harmless and feeding the points in any number of calls gives the same
  crossings as one call;
- a crossing needs the condition to hold for `patience` consecutive new values;
- NaN/inf values never count and reset the streak;
- after a crossing the rule is disarmed until the metric has gone back past the threshold by
  the hysteresis margin, so a value hovering around the threshold alerts once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from integrations.base import MetricPoint

OPS = (">=", ">", "<=", "<")
_MAXIMIZE = (">=", ">")

# Default hysteresis: 1% of |threshold|; a zero threshold has no scale, so a tiny absolute margin.
DEFAULT_HYSTERESIS_FRACTION = 0.01
ZERO_THRESHOLD_HYSTERESIS = 1e-9


def is_finite(value: object) -> bool:
    """True for a real, finite number (bools and non-numbers are not metric values)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _compare(op: str, value: float, threshold: float) -> bool:
    if op == ">=":
        return value >= threshold
    if op == ">":
        return value > threshold
    if op == "<=":
        return value <= threshold
    return value < threshold


@dataclass(frozen=True)
class Rule:
    """`metric op threshold for patience evals`, e.g. `val_acc >= 0.9 for 2 evals`.

    hysteresis: how far (absolute) the metric must go back past the threshold to re-arm.
    None means the default: 1% of |threshold|, or 1e-9 when the threshold is 0. Zero is allowed
    and re-arms as soon as the condition stops holding.
    """

    metric: str
    op: str
    threshold: float
    patience: int = 1
    hysteresis: float | None = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"op must be one of {', '.join(OPS)}, not {self.op!r}")
        if not is_finite(self.threshold):
            raise ValueError(f"threshold must be a finite number, not {self.threshold!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"patience must be a whole number >= 1, not {self.patience!r}")
        if self.hysteresis is not None and not (is_finite(self.hysteresis) and self.hysteresis >= 0):
            raise ValueError(f"hysteresis must be a finite number >= 0, not {self.hysteresis!r}")

    @property
    def maximize(self) -> bool:
        """True when higher is better (`>=`, `>`)."""
        return self.op in _MAXIMIZE

    @property
    def margin(self) -> float:
        if self.hysteresis is not None:
            return float(self.hysteresis)
        if self.threshold == 0:
            return ZERO_THRESHOLD_HYSTERESIS
        return abs(self.threshold) * DEFAULT_HYSTERESIS_FRACTION

    @property
    def rearm_level(self) -> float:
        """The threshold shifted back by the margin: re-arm once the condition fails even there."""
        return self.threshold - self.margin if self.maximize else self.threshold + self.margin

    def holds(self, value: float) -> bool:
        return is_finite(value) and _compare(self.op, value, self.threshold)

    def is_rearmed(self, value: float) -> bool:
        """`>=`: value < t - m; `>`: value <= t - m; `<=`: value > t + m; `<`: value >= t + m."""
        return is_finite(value) and not _compare(self.op, value, self.rearm_level)

    def better(self, best: float | None, value: float) -> float | None:
        """The better of `best` and `value` in this rule's direction, ignoring non-finite values."""
        if not is_finite(value):
            return best
        if best is None:
            return value
        return max(best, value) if self.maximize else min(best, value)

    def describe(self) -> str:
        text = f"{self.metric} {self.op} {self.threshold:g}"
        if self.patience > 1:
            text += f" for {self.patience} evals"
        return text


@dataclass(frozen=True)
class TargetProgress:
    """What is stored per (target, run) between evaluations."""

    streak: int = 0  # consecutive new values for which the condition held (while armed)
    armed: bool = True  # False from a crossing until the metric re-arms past the margin
    crossings: int = 0  # crossings so far; the next crossing is number crossings + 1
    last_step: int | None = None  # newest step evaluated; only later steps are new
    best: float | None = None  # best finite value seen, in the rule's direction
    # Time of the newest point evaluated at last_step: a point at that same step logged later
    # is new too. None (progress stored before this was kept) makes only later steps new.
    last_at: datetime | None = None


@dataclass(frozen=True)
class Crossing:
    number: int  # 1-based; part of the dedupe key (target, run, number)
    step: int
    value: float
    at: datetime


def evaluate(
    rule: Rule, progress: TargetProgress, points: Sequence[MetricPoint]
) -> tuple[TargetProgress, list[Crossing]]:
    """Feed the new points of `rule.metric` for one run; return the new progress and crossings.

    Points are taken ascending by (step, time) (stable, so of two equal points the first wins);
    a point not after the last evaluated one in that order is skipped.
    """
    streak, armed, count = progress.streak, progress.armed, progress.crossings
    last_step, last_at, best = progress.last_step, progress.last_at, progress.best
    found: list[Crossing] = []
    for point in sorted(points, key=lambda p: (p.step, p.at)):
        if not _is_new(point, last_step, last_at):
            continue
        last_step, last_at = point.step, point.at
        if not is_finite(point.value):
            streak = 0
            continue
        best = rule.better(best, point.value)
        if not armed:
            if rule.is_rearmed(point.value):
                armed, streak = True, 0
            continue
        if not rule.holds(point.value):
            streak = 0
            continue
        streak += 1
        if streak >= rule.patience:
            count += 1
            found.append(Crossing(number=count, step=point.step, value=point.value, at=point.at))
            armed, streak = False, 0
    new = TargetProgress(streak=streak, armed=armed, crossings=count, last_step=last_step, best=best, last_at=last_at)
    return new, found


def _is_new(point: MetricPoint, last_step: int | None, last_at: datetime | None) -> bool:
    if last_step is None or point.step > last_step:
        return True
    return point.step == last_step and last_at is not None and point.at > last_at


def nonfinite(metrics: Mapping[str, float], keys: Iterable[str] | None = None) -> list[str]:
    """The watched metrics whose latest value is NaN or +-inf, sorted by name.

    keys: the exact metric names to watch; None watches every key containing "loss"
    (case-insensitive). Missing keys and non-numeric values are not reported.
    Alerting once per (run, key) is the caller's dedupe, like crossings.
    """
    if keys is None:
        watched = [k for k in metrics if "loss" in k.lower()]
    else:
        watched = [k for k in dict.fromkeys(keys) if k in metrics]
    return sorted(k for k in watched if _is_number(metrics[k]) and not math.isfinite(metrics[k]))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def best_so_far(rule: Rule, values: Iterable[float]) -> float | None:
    """Best finite value in the rule's direction (max for >=/>, min for <=/<), None if none."""
    best: float | None = None
    for value in values:
        best = rule.better(best, value)
    return best
