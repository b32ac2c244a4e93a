"""The results table of a review: each run's final metrics against the channel's targets and an
optional baseline run. Pure: the caller passes plain values and renders the rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.targets import Rule, is_finite

MAX_METRICS = 5  # columns: a wider table wraps badly in Slack's code blocks


@dataclass(frozen=True)
class Goal:
    """A channel target as the table uses it; `applies_to` names the runs it covers (None: all)."""

    rule: Rule
    applies_to: frozenset[str] | None = None


@dataclass(frozen=True)
class Cell:
    value: float | None
    meets: bool | None = None  # None: no target for this metric and run
    delta: float | None = None  # value minus the baseline's


@dataclass(frozen=True)
class Row:
    name: str
    state: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Table:
    metrics: tuple[str, ...]
    rows: tuple[Row, ...]
    baseline: Row | None
    goals: tuple[str, ...]  # described, for the legend


@dataclass(frozen=True)
class RunMetrics:
    key: str  # identifies the run for Goal.applies_to
    name: str
    state: str
    metrics: Mapping[str, object]


def pick_metrics(runs: Sequence[RunMetrics], goals: Sequence[Goal], limit: int = MAX_METRICS) -> list[str]:
    """Target metrics first (the team said they matter), then those most runs report."""
    present = {k for r in runs for k, v in r.metrics.items() if _number(v) is not None}
    chosen = [g.rule.metric for g in goals if g.rule.metric in present]
    counts: dict[str, int] = {}
    for run in runs:
        for key in run.metrics:
            if key in present:
                counts[key] = counts.get(key, 0) + 1
    rest = sorted(counts, key=lambda k: (-counts[k], k))
    return list(dict.fromkeys(chosen + rest))[:limit]


def results_table(runs: Sequence[RunMetrics], goals: Sequence[Goal], baseline: RunMetrics | None) -> Table:
    metrics = pick_metrics(runs, goals)
    base_values = {m: _number(baseline.metrics.get(m)) for m in metrics} if baseline else {}
    rows = tuple(
        Row(run.name, run.state, tuple(_cell(run, m, goals, base_values.get(m)) for m in metrics))
        for run in runs
    )
    base_row = None
    if baseline is not None:
        base_row = Row(baseline.name, baseline.state, tuple(Cell(base_values[m]) for m in metrics))
    described = tuple(dict.fromkeys(g.rule.describe() for g in goals if g.rule.metric in metrics))
    return Table(tuple(metrics), rows, base_row, described)


def _cell(run: RunMetrics, metric: str, goals: Sequence[Goal], base: float | None) -> Cell:
    value = _number(run.metrics.get(metric))
    goal = next((g for g in goals if g.rule.metric == metric and _covers(g, run)), None)
    meets = None if goal is None or value is None else goal.rule.holds(value)
    delta = value - base if value is not None and base is not None else None
    return Cell(value, meets, delta)


def _covers(goal: Goal, run: RunMetrics) -> bool:
    return goal.applies_to is None or run.key in goal.applies_to


def _number(value: object) -> float | None:
    """Stored metrics are numbers, or strings for NaN/inf (JSON has neither)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return float(value) if is_finite(value) else None  # type: ignore[arg-type]
