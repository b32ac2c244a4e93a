"""Validate a pushed run update and turn it into a RunSnapshot."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from integrations.base import RunSnapshot, RunState

MAX_METRICS = 200
MAX_DEPTH = 20  # params nest a little; a body nested 2,000 deep is an attack on the parser
MAX_DIGITS = 40  # a whole number written with more digits fits no step, metric or sane param
INT64_MAX = 2**63 - 1  # MLflow's steps are 64-bit; nothing larger can be stored
STATES = {s.value for s in RunState} - {"stalled", "unknown"}
# Common spellings from trainer code, so scripts need not learn our vocabulary.
ALIASES = {"completed": "finished", "done": "finished", "success": "finished", "error": "failed",
           "crashed": "failed", "cancelled": "killed", "canceled": "killed", "pending": "queued",
           "started": "running"}


class PushError(ValueError):
    """The update is malformed; the message says which field and why."""


class LongNumber(str):
    """A JSON whole number of more than MAX_DIGITS digits, kept as its text: int() of 5,000
    digits raises, and float() of 400 overflows. Validation below names the field it sits in."""


def parse_body(raw: bytes) -> Any:
    """The pushed body as JSON, or PushError saying why not."""
    try:
        body = json.loads(raw or b"{}", parse_int=_whole_number)
    except RecursionError:
        raise PushError(f"body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise PushError("body is not JSON") from None
    if _depth(body) > MAX_DEPTH:
        raise PushError(f"body is nested deeper than {MAX_DEPTH} levels")
    return body


def _whole_number(text: str) -> int | LongNumber:
    return LongNumber(text) if len(text) > MAX_DIGITS else int(text)


def _depth(value: Any) -> int:
    """How deep lists and objects nest, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def snapshot_from_push(ref: str, body: Any, now: datetime) -> RunSnapshot:
    if not isinstance(body, dict):
        raise PushError("body must be a JSON object")
    if not ref or len(ref) > 200 or "/" in ref:
        raise PushError("run ref must be 1-200 characters without '/'")
    if any(ord(c) < 32 or ord(c) == 127 for c in ref):
        raise PushError("run ref must not contain control characters")
    body = _without_nul(body)  # PostgreSQL text and jsonb cannot hold U+0000
    _refuse_surrogates(body, "body")
    return RunSnapshot(
        ref=ref,
        state=_state(body.get("state", "running")),
        name=_text(body, "name"),
        experiment=_text(body, "experiment"),
        step=_int(body, "step"),
        total_steps=_int(body, "total_steps"),
        metrics=_metrics(body.get("metrics", {})),
        params=_params(_dict(body, "params")),
        started_at=_time(body, "started_at"),
        ended_at=_time(body, "ended_at"),
        heartbeat_at=now,
        owner=_text(body, "owner"),
        url=_text(body, "url"),
    )


def _without_nul(value: Any) -> Any:
    if isinstance(value, LongNumber):
        return value  # digits only, and str.replace would drop the marker
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _refuse_surrogates(value: Any, field: str) -> None:
    """A lone surrogate ("\\ud800") is valid JSON but not Unicode: no database can store it."""
    if isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
        raise PushError(f"{field} holds a lone surrogate, which is not valid Unicode text")
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_surrogates(k, f"{field} key")
            _refuse_surrogates(v, f"{field}.{k}")
    elif isinstance(value, list):
        for v in value:
            _refuse_surrogates(v, field)


def _params(value: dict) -> dict[str, str]:
    for key, v in value.items():
        if isinstance(v, LongNumber):
            raise PushError(f"param {str(key)[:50]!r} is a number of more than {MAX_DIGITS} digits")
    return {str(k): str(v)[:500] for k, v in value.items()}


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
        if isinstance(v, LongNumber):
            raise PushError(f"metric {str(key)[:50]!r} is out of range")
        try:
            out[str(key)[:250]] = float(v)  # "NaN"/"inf" strings are how JSON carries them
        except ValueError:
            raise PushError(f"metric {str(key)[:50]!r} must be a number") from None
        except OverflowError:
            raise PushError(f"metric {str(key)[:50]!r} is out of range") from None
    return out


def _int(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, LongNumber) or (isinstance(value, int | float) and not isinstance(value, bool)
                                         and math.isfinite(value) and value > INT64_MAX):
        raise PushError(f"{key} must fit in a signed 64-bit integer (at most {INT64_MAX})")
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
