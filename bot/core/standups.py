"""Standup assembly: whose runs are whose, what changed since a member's last standup, and who
answered. Pure; `now` and time zones are passed in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.eta import format_eta, progress_fraction
from bot.core.facts import AlertFacts, RunFacts
from bot.core.words import plural

DEFAULT_QUESTIONS = (
    "What did you get done since the last standup?",
    "What are you working on next?",
    "Anything blocking you?",
)
MAX_QUESTIONS = 8  # a modal holds 100 blocks, but nobody answers more than a handful
PREFILL_LINES = 15
PREFILL_CHARS = 2900  # plain_text_input initial_value and max_length stop at 3000

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise(name: str | None) -> str:
    """`Alice.Smith@corp.com` -> `alicesmith`: how trackers and Slack spell one person."""
    if not name:
        return ""
    local = name.strip().lower().split("@")[0]
    return _NON_ALNUM.sub("", local)


def owner_keys(*names: str | None) -> list[str]:
    """Every spelling of a Slack user we try against run owners: handle, display name, real
    name, email local part, and each of those's first word (`alice` for `alice.smith`)."""
    keys: list[str] = []
    for name in names:
        if not name:
            continue
        local = name.strip().lower().split("@")[0]
        for candidate in (local, _NON_ALNUM.split(local)[0]):
            key = normalise(candidate)
            if len(key) >= 2 and key not in keys:
                keys.append(key)
    return keys


def owner_matches(owner: str | None, keys: Iterable[str]) -> bool:
    """Loose on purpose: trackers store a login, a full name or an email, never a Slack id."""
    if not owner:
        return False
    keys = set(keys)
    return bool(keys) and bool(set(owner_keys(owner)) & keys)


def runs_of(runs: Sequence[RunFacts], keys: Iterable[str]) -> list[RunFacts]:
    keys = list(keys)
    return [r for r in runs if owner_matches(r.owner, keys)]


def run_changes(
    runs: Sequence[RunFacts], alerts: Sequence[AlertFacts], since: datetime, now: datetime, tz: str
) -> list[str]:
    """One line per run that finished, failed, stalled, started or made progress since `since`,
    plus one per target crossing, most final first: what a member did since their last standup."""
    names = {r.id: r.name for r in runs}
    lines = [line for r in runs if (line := _run_line(r, since, now, tz))]
    crossings = [
        (1, f"{names[a.run_id]}: reached {a.metric} {a.op} {a.threshold:g} ({a.value:.4g} at step {a.step})")
        for a in alerts
        if a.run_id in names and a.at >= since
    ]
    return [text for _, text in sorted(lines + crossings, key=lambda pair: pair[0])]


_TERMINAL = {"finished": "finished", "failed": "failed", "killed": "was killed"}


def _run_line(run: RunFacts, since: datetime, now: datetime, tz: str) -> tuple[int, str] | None:
    changed = run.changed_at
    if run.state in _TERMINAL and changed and changed >= since:
        return 0, f"{run.name} {_TERMINAL[run.state]}{_metrics(run)}"
    if run.state == "stalled" and changed and changed >= since:
        return 2, f"{run.name} stalled{_where(run)}"
    if run.state == "running" and (
        (run.progress_at and run.progress_at >= since) or (run.started_at and run.started_at >= since)
    ):
        started = " (started)" if run.started_at and run.started_at >= since else ""
        eta = f", ETA {format_eta(run.eta, now, tz)}" if run.eta else ""
        return 3, f"{run.name} in progress{started}{_where(run)}{eta}"
    return None


def _where(run: RunFacts) -> str:
    if run.step is None:
        return ""
    frac = progress_fraction(run.step, run.total_steps)
    total = f"/{run.total_steps} ({frac:.0%})" if frac is not None else ""
    return f" at step {run.step}{total}"


def _metrics(run: RunFacts, limit: int = 2) -> str:
    shown = [(k, v) for k, v in sorted((run.metrics or {}).items()) if isinstance(v, int | float)][:limit]
    return (" — " + ", ".join(f"{k} {v:.4g}" for k, v in shown)) if shown else ""


def prefill(lines: Sequence[str], header: str = "") -> str:
    """Bullet lines for the first answer box, cut to fit a plain_text_input."""
    shown = list(lines[:PREFILL_LINES])
    text = (header + "\n" if header else "") + "\n".join(f"• {line}" for line in shown)
    if len(lines) > len(shown):
        text += f"\n• …and {plural(len(lines) - len(shown), 'more run update')}"
    return text[:PREFILL_CHARS]


def questions_of(config: dict | None) -> list[str]:
    """The schedule's questions, or the defaults; blank ones dropped, at most MAX_QUESTIONS."""
    asked = [str(q).strip()[:150] for q in (config or {}).get("questions") or [] if str(q).strip()]
    return asked[:MAX_QUESTIONS] or list(DEFAULT_QUESTIONS)


@dataclass
class Tally:
    """Who did what in one round, in member order, for the summary."""

    answered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    away: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.answered) + len(self.skipped) + len(self.away) + len(self.missing)


def tally(statuses: Iterable[tuple[str, str]]) -> Tally:
    """(user id, status) pairs -> Tally; any status but answered/skipped/away counts as missing."""
    result = Tally()
    buckets = {"answered": result.answered, "skipped": result.skipped, "away": result.away}
    for user, status in statuses:
        buckets.get(status, result.missing).append(user)
    return result
