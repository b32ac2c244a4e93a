"""Validate a pushed run update and turn it into a RunSnapshot."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from integrations.base import RunSnapshot, RunState

MAX_METRICS = 200
STATES = {s.value for s in RunState} - {"stalled", "unknown"}
# Common spellings from trainer code, so scripts need not learn our vocabulary.
ALIASES = {"completed": "finished", "done": "finished", "success": "finished", "error": "failed",
           "crashed": "failed", "cancelled": "killed", "canceled": "killed", "pending": "queued",
           "started": "running"}


class PushError(ValueError):
    """The update is malformed; the message says which field and why."""


def snapshot_from_push(ref: str, body: Any, now: datetime) -> RunSnapshot:
    if not isinstance(body, dict):
        raise PushError("body must be a JSON object")
    if not ref or len(ref) > 200 or "/" in ref:
        raise PushError("run ref must be 1-200 characters without '/'")
    if any(ord(c) < 32 or ord(c) == 127 for c in ref):
        raise PushError("run ref must not contain control characters")
    body = _without_nul(body)  # PostgreSQL text and jsonb cannot hold U+0000
    return RunSnapshot(
        ref=ref,
        state=_state(body.get("state", "running")),
        name=_text(body, "name"),
        experiment=_text(body, "experiment"),
        step=_int(body, "step"),
        total_steps=_int(body, "total_steps"),
        metrics=_metrics(body.get("metrics", {})),
        params={str(k): str(v)[:500] for k, v in _dict(body, "params").items()},
        started_at=_time(body, "started_at"),
        ended_at=_time(body, "ended_at"),
        heartbeat_at=now,
        owner=_text(body, "owner"),
        url=_text(body, "url"),
    )


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _state(value: Any) -> RunState:
    if not isinstance(value, str):
        raise PushError("state must be a string")
    name = ALIASES.get(value.lower(), value.lower())
    if name not in STATES:
        raise PushError(f"state must be one of {', '.join(sorted(STATES))}")
    return RunState(name)


def _metrics(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise PushError("metrics must be an object of name -> number")
    if len(value) > MAX_METRICS:
        raise PushError(f"at most {MAX_METRICS} metrics per update")
    out = {}
    for key, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise PushError(f"metric {str(key)[:50]!r} must be a number")
        try:
            out[str(key)[:250]] = float(v)  # "NaN"/"inf" strings are how JSON carries them
        except ValueError:
            raise PushError(f"metric {str(key)[:50]!r} must be a number") from None
    return out


def _int(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise PushError(f"{key} must be a non-negative whole number")
    return int(value)


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PushError(f"{key} must be a string")
    return value[:500]


def _dict(body: dict, key: str) -> dict:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise PushError(f"{key} must be an object")
    return value


def _time(body: dict, key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise PushError(f"{key} must be an ISO 8601 time or epoch seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
