"""The target alert message (with its buttons) and the chart uploaded in its thread.

Payloads are plain JSON written at evaluation time; the message is rebuilt from the payload on
every send, so an edit (acknowledged, snoozed, muted) is the same payload plus a `log` of who
did what. Non-finite numbers are stored as strings: JSON (and PostgreSQL's json type) has no NaN.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from bot.core.targets import Crossing
from bot.notify import run_stop
from bot.notify.blocks import actions, button
from bot.notify.render import Message, escape, render
from bot.store.models import Run, Target
from integrations.base import MetricPoint

TEMPLATE = "target_alert"
CHART = "target_chart"
ACTION_PREFIX = "target_"  # + the target action (bot.handlers.target_actions.ACTIONS) it asks for
REVIEW_BUTTON, SNOOZE_BUTTON = ACTION_PREFIX + "review", ACTION_PREFIX + "snooze"
MUTE_BUTTON, ACK_BUTTON = ACTION_PREFIX + "mute", ACTION_PREFIX + "ack"
BUTTONS = (REVIEW_BUTTON, SNOOZE_BUTTON, MUTE_BUTTON, ACK_BUTTON)
MAX_CHART_POINTS = 2000  # a 600 px wide chart shows no more; keeps the outbox row small
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


ENDED = ("finished", "failed", "killed")
BROKEN = ("failed", "killed")  # nothing to review: the results are not there


@dataclass(frozen=True)
class RunNow:
    """The run as the poll that found the crossing shows it: it may have failed or diverged
    since the crossing's step, which the alert must say (and then offer what still makes sense)."""

    state: str
    step: int | None = None
    diverged: bool = False  # a non-finite loss in the newest values


def alert_item(alert_id: int, target: Target, run: Run, connection: str, crossing: Crossing,
               now: RunNow | None = None) -> dict[str, Any]:
    since_start = (crossing.at - run.started_at).total_seconds() if run.started_at else None
    now = now or RunNow(run.state, run.step)
    return {
        "alert_id": alert_id,
        "target_id": target.id,
        "metric": target.metric,
        "op": target.op,
        "threshold": float(target.threshold),
        "patience": int(target.patience),
        "value": crossing.value,
        "step": crossing.step,
        "at": crossing.at.isoformat(),
        "since_start_s": since_start if since_start is None or since_start >= 0 else None,
        "connection": connection,
        "run": {"id": run.id, "ref": run.ref, "name": run.name or run.ref, "url": run.url,
                "experiment": run.experiment},
        "now": asdict(now),
    }


def went_wrong(item: dict[str, Any]) -> str | None:
    """"failed", "killed" or "diverged" when the run went wrong after reaching the target."""
    now = item.get("now") or {}
    if now.get("state") in BROKEN:
        return str(now["state"])
    return "diverged" if now.get("diverged") else None


def can_cross_again(item: dict[str, Any]) -> bool:
    """A later alert can still come only from a run that is still training."""
    now = item.get("now") or {}
    return now.get("state", "running") not in ENDED and not now.get("diverged")


def chart_payload(item: dict[str, Any], points: list[MetricPoint]) -> dict[str, Any]:
    return {
        "title": f"{item['run']['name']} · {item['metric']}",
        "metric": item["metric"],
        "run": item["run"]["name"],
        "threshold": item["threshold"],
        "op": item["op"],
        "crossing": [item["step"], item["value"]],
        "points": [[p.step, _json_number(p.value)] for p in _thin(sorted(points, key=lambda p: p.step))],
    }


def _thin(points: list[MetricPoint]) -> list[MetricPoint]:
    if len(points) <= MAX_CHART_POINTS:
        return points
    stride = math.ceil(len(points) / MAX_CHART_POINTS)
    return points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def alert_message(payload: dict[str, Any]) -> Message:
    alerts = payload.get("alerts") or []
    log = payload.get("log") or []
    blocks: list[dict[str, Any]] = []
    text = ""
    if len(alerts) > 1:
        # One run crossing several targets, or several runs: the fallback names the runs, since
        # it is all a notification shows.
        runs = list(dict.fromkeys(str(item["run"]["name"]) for item in alerts))
        head = render("target_alert_head", count=len(alerts), runs=runs)
        blocks += head.blocks
        text = head.text
        if len(runs) > 1:
            text += ": " + ", ".join(escape(name) for name in runs)
    for item in alerts:
        notes = [_note(n) for n in _current(log, item["alert_id"])]
        part = render(TEMPLATE, a=item, notes=notes, wrong=went_wrong(item))
        blocks += part.blocks
        buttons = _buttons(item, notes) + _stop(payload, item)
        if buttons:  # an actions block needs at least one element
            blocks.append(actions(*buttons, block_id=f"target_alert:{item['alert_id']}"))
        if note := run_stop.requested_note(payload, item["run"]["id"]):
            blocks.append(note)
        text = text or part.text
    return Message(text=text or "A run reached its target", blocks=blocks)


REVIEW_STEPS = ("review", "review_dropped", "review_done")  # form opened, closed, submitted


def _current(log: list[dict[str, Any]], alert_id: int) -> list[dict[str, Any]]:
    """The log entries of one alert that are still true: of each person's review steps only
    the last counts (a form closed unsubmitted takes "is scheduling" back; a submitted one
    turns it into "review scheduled for <time>")."""
    mine = [e for e in log if e.get("alert_id") == alert_id]
    last_step = {e.get("user"): i for i, e in enumerate(mine) if e.get("action") in REVIEW_STEPS}
    return [e for i, e in enumerate(mine)
            if e.get("action") not in REVIEW_STEPS or (last_step.get(e.get("user")) == i and e["action"] != "review_dropped")]


def _note(entry: dict[str, Any]) -> dict[str, Any]:
    user = str(entry.get("user") or "")
    # A mention only for a real-looking user id; anything else is text the template escapes.
    who = Markup(f"<@{user}>") if _USER_ID.fullmatch(user) else (user or "someone")
    return {"action": entry.get("action"), "who": who, "until": entry.get("until"),
            "review_at": entry.get("review_at")}


def _buttons(item: dict[str, Any], notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the buttons that still mean something: no review of a run that failed or diverged
    (the message says why), no snooze where no later alert can come (an ended run, a muted
    target), nothing already done."""
    value = str(item["alert_id"])
    done = {n["action"] for n in notes}
    elements = []
    if went_wrong(item) is None and "review_done" not in done:
        elements.append(button("Schedule results review", REVIEW_BUTTON, value, style="primary"))
    if can_cross_again(item) and "mute" not in done:
        elements.append(button("Snooze 1h", SNOOZE_BUTTON, value))
    if "mute" not in done:
        elements.append(button("Mute this target", MUTE_BUTTON, value, style="danger"))
    if "ack" not in done:
        elements.append(button("Acknowledge", ACK_BUTTON, value))
    return elements


def _stop(payload: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    """Reaching the target is the moment to stop spending compute: offered while the run trains."""
    if not can_cross_again(item):  # ended, or went wrong: nothing left to stop
        return []
    run = item["run"]
    element = run_stop.offer(payload, run["id"], str(run["name"]), payload.get("kind"))
    return [element] if element else []


def chart_caption(payload: dict[str, Any]) -> Message:
    # The dispatcher builds every row's message before it looks at op="upload"; the upload
    # itself only uses chart_file, so this just has to be cheap and never fail.
    return Message(text=_caption(payload))


def _caption(payload: dict[str, Any]) -> str:
    return f"`{escape(payload['metric'])}` of *{escape(payload['run'])}* by step; the dashed line is the target."


def chart_file(payload: dict[str, Any]) -> tuple[str, bytes, str | None]:
    """(filename, PNG bytes, comment) for an upload row; see bot.notify.uploads.FILES."""
    from bot.notify.chart import metric_chart_png  # matplotlib is slow to import: only when drawing

    points = [MetricPoint(step=int(step), value=float(value), at=_EPOCH) for step, value in payload["points"]]
    step, value = payload["crossing"]
    png = metric_chart_png(
        payload["title"],
        points,
        threshold=float(payload["threshold"]),
        op=payload["op"],
        crossing=MetricPoint(step=int(step), value=float(value), at=_EPOCH),
    )
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{payload['metric']}-{payload['run']}")[:80]
    return f"{name}.png", png, _caption(payload)
