"""The channel's leaderboard: its runs ranked by one metric, with a few key params, the step and
the gap to the channel's target, and whether the top changed since the digest last looked.

Pure: plain entries in, plain rows out. The direction comes from the channel's target on the
metric (`>=`/`>` maximize, `<=`/`<` minimize) or from what the user typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.targets import is_finite

MAX_ROWS = 10
DIGEST_ROWS = 3
MAX_PARAMS = 3
MAX_PARAM_TEXT = 40


@dataclass(frozen=True)
class Entry:
    """One run as the leaderboard reads it (only the columns it shows)."""

    run_id: int
    name: str
    connection: str
    url: str | None
    step: int | None
    metrics: Mapping[str, Any]
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Goal:
    """The channel's target on the metric: `op threshold`."""

    op: str
    threshold: float

    @property
    def maximize(self) -> bool:
        return self.op in (">=", ">")

    def met(self, value: float) -> bool:
        if self.op == ">=":
            return value >= self.threshold
        if self.op == ">":
            return value > self.threshold
        if self.op == "<=":
            return value <= self.threshold
        return value < self.threshold


class NoMetric(Exception):
    """No metric was given and the channel's targets do not name exactly one."""

    def __init__(self, choices: Sequence[str]):
        super().__init__(", ".join(choices))
        self.choices = tuple(choices)


def choose_metric(given: str | None, target_metrics: Sequence[str]) -> str:
    if given:
        return given
    metrics = sorted(set(target_metrics))
    if len(metrics) == 1:
        return metrics[0]
    raise NoMetric(metrics)


def direction(metric: str, goals: Mapping[str, Goal], given: str | None) -> bool:
    """True when higher is better: as typed (`max`/`min`), else the target's, else maximize."""
    if given is not None:
        return given == "max"
    goal = goals.get(metric)
    return goal.maximize if goal else True


def rank(entries: Sequence[Entry], metric: str, maximize: bool, goal: Goal | None,
         limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """The best `limit` runs with a finite value of `metric`, best first (ties: by name)."""
    scored = [(float(e.metrics[metric]), e) for e in entries if is_finite(e.metrics.get(metric))]
    scored.sort(key=lambda pair: (-pair[0] if maximize else pair[0], pair[1].name))
    top = scored[:limit]
    shown_params = key_params([e for _, e in top])
    return [_row(value, entry, goal, shown_params) for value, entry in top]


def key_params(entries: Sequence[Entry]) -> list[str]:
    """The params worth showing: those whose values differ among the shown runs (what sets them
    apart), else the first ones by name; at most MAX_PARAMS."""
    names = sorted({k for e in entries for k in e.params})
    differing = [k for k in names if len({_param_text(e.params.get(k)) for e in entries}) > 1]
    return (differing or names)[:MAX_PARAMS]


def _param_text(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_PARAM_TEXT else text[: MAX_PARAM_TEXT - 1] + "…"


def _row(value: float, entry: Entry, goal: Goal | None, params: Sequence[str]) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "name": entry.name,
        "connection": entry.connection,
        "url": entry.url,
        "value": value,
        "step": entry.step,
        "params": [{"key": k, "value": _param_text(entry.params[k])} for k in params if k in entry.params],
        "gap": None if goal is None else gap(value, goal),
        "met": None if goal is None else goal.met(value),
    }


def gap(value: float, goal: Goal) -> float:
    """How far the value still is from the target (0 once met), in the metric's units."""
    short = goal.threshold - value if goal.maximize else value - goal.threshold
    return max(0.0, short)


def change_text(before: float, after: float) -> str:
    """`+0.8 pt` for values on a 0..1 scale (accuracy-like), else the plain difference."""
    delta = after - before
    sign = "+" if delta >= 0 else "-"
    if 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0:
        return f"{sign}{abs(delta) * 100:.1f} pt"
    return f"{sign}{abs(delta):.4g}"


def new_leader(previous: tuple[int | None, str, float] | None, top: Mapping[str, Any] | None,
               maximize: bool) -> dict[str, Any] | None:
    """The "new best" note when the top run differs from the one the last digest showed and beats
    its value; None on a first look (nothing to compare with) or when nothing changed."""
    if top is None or previous is None:
        return None
    run_id, name, value = previous
    if run_id == top["run_id"] and name == top["name"]:
        return None
    better = top["value"] > value if maximize else top["value"] < value
    if not better:
        return None
    return {"name": top["name"], "url": top["url"], "value": top["value"], "change": change_text(value, top["value"]),
            "was": name}


def board(entries: Sequence[Entry], metric: str, maximize: bool, goal: Goal | None, limit: int,
          new_best: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the leaderboard template shows (the slash command and the digest share it)."""
    return {"metric": metric, "maximize": maximize,
            "goal": f"{metric} {goal.op} {goal.threshold:g}" if goal else None,
            "rows": rank(entries, metric, maximize, goal, limit), "new_best": new_best}
