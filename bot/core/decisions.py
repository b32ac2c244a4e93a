"""The decision a results review ends with, and how a record of it reads: in Slack, in a
Markdown export and in a CSV export. Pure: the stored record (as a plain dict) in, text out.

A record carries a frozen copy of the runs it cites (`runs`: name, connection, state, step,
metrics and params at decision time), so what the tracker says later never changes it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

CHOICES: dict[str, str] = {
    "ship": "Ship",
    "continue": "Continue training",
    "stop": "Stop",
    "next": "Next experiment",
}
MAX_NOTE = 2000
# A frozen copy keeps this many metrics and params per run: enough for any review table, and a
# run logging thousands of keys cannot bloat the record.
MAX_KEYS = 100
MAX_VALUE_TEXT = 200
SHOWN_METRICS = 4


def label(choice: str) -> str:
    return CHOICES.get(choice, choice)


def frozen_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """A bounded, JSON-safe copy: numbers stay numbers (non-finite ones become their text)."""
    out: dict[str, Any] = {}
    for key in sorted(values or {})[:MAX_KEYS]:
        value = (values or {})[key]
        if isinstance(value, bool) or value is None:
            out[str(key)[:250]] = value
        elif isinstance(value, int | float):
            out[str(key)[:250]] = value if math.isfinite(value) else str(value)
        else:
            out[str(key)[:250]] = str(value)[:MAX_VALUE_TEXT]
    return out


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def metrics_text(run: Mapping[str, Any], limit: int = SHOWN_METRICS) -> str:
    metrics = list((run.get("metrics") or {}).items())
    shown = ", ".join(f"{k}={number(v)}" for k, v in metrics[:limit])
    if len(metrics) > limit:
        shown += f", +{len(metrics) - limit} more"
    return shown or "no metrics"


def markdown(channel_name: str, records: Sequence[Mapping[str, Any]]) -> str:
    """The channel's decisions, newest first, as a Markdown document."""
    lines = [f"# Decisions in {channel_name}", ""]
    if not records:
        lines.append("No decisions recorded yet.")
    for r in records:
        head = f"## #{r['id']} {label(r['choice'])}, {r['decided_at']} by {r['decided_by']}"
        if r.get("edited_by"):
            head += f" (edited by {r['edited_by']}, {r.get('edited_at') or ''})"
        lines += [head, ""]
        if r.get("review_title"):
            lines.append(f"Review: {_md(r['review_title'])}")
        if r.get("note"):
            lines.append(f"Note: {_md(r['note'])}")
        if r.get("permalink"):
            lines.append(f"Message: {r['permalink']}")
        lines += ["", "| run | connection | state | step | metrics | params |", "|---|---|---|---|---|---|"]
        for run in r.get("runs") or []:
            params = ", ".join(f"{k}={number(v)}" for k, v in (run.get("params") or {}).items())
            cells = [run.get("name"), run.get("connection"), run.get("state"), run.get("step"),
                     metrics_text(run, MAX_KEYS), params]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _md(text: Any) -> str:
    return " ".join(str(text).split())


def _md_cell(value: Any) -> str:
    return "" if value is None else _md(value).replace("|", "\\|")


CSV_COLUMNS = ("decision_id", "decided_at", "decided_by", "decision", "note", "review", "run", "connection",
               "state", "step", "metrics", "params", "permalink", "edited_by", "edited_at")


def csv_text(records: Sequence[Mapping[str, Any]]) -> str:
    """One line per (decision, cited run); metrics and params as JSON-like `k=v; ...` text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line breaks
    writer.writerow(CSV_COLUMNS)
    for r in records:
        for run in r.get("runs") or [{}]:
            writer.writerow([_cell(v) for v in (
                r["id"], r["decided_at"], r["decided_by"], r["choice"], r.get("note", ""), r.get("review_title", ""),
                run.get("name", ""), run.get("connection", ""), run.get("state", ""), run.get("step", ""),
                "; ".join(f"{k}={number(v)}" for k, v in (run.get("metrics") or {}).items()),
                "; ".join(f"{k}={number(v)}" for k, v in (run.get("params") or {}).items()),
                r.get("permalink") or "", r.get("edited_by") or "", r.get("edited_at") or "",
            )])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is run as a formula by spreadsheets (CSV injection):
    # https://owasp.org/www-community/attacks/CSV_Injection
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
