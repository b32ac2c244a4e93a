"""Reading external answers defensively: a wrong-typed field becomes a MalformedAnswer of that
connection instead of an AttributeError that aborts the whole poll cycle.

Policy (issue 12): a malformed *answer* (a page that is not an object, a list that is not a
list) fails that call with MalformedAnswer, so the connection's runs turn stale; a single
malformed *run* inside an otherwise good answer is left out with a log line, and the other
runs of the answer are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from integrations.base import MalformedAnswer

log = logging.getLogger(__name__)
T = TypeVar("T")

# What Python raises when JSON of the wrong shape meets code written for the right one.
SHAPE_ERRORS = (AttributeError, KeyError, IndexError, TypeError, ValueError, OverflowError, OSError, RecursionError)


@contextmanager
def reading(tracker: str, what: str):  # noqa: ANN201 - a context manager and a decorator
    """Turn shape errors raised while translating `what` into one MalformedAnswer."""
    try:
        yield
    except MalformedAnswer:
        raise
    except SHAPE_ERRORS as exc:
        # Only the exception's class: its text may quote the value the tracker sent.
        raise MalformedAnswer(f"{tracker} answered {what} in an unexpected shape ({type(exc).__name__})") from None


def obj(value: Any, tracker: str, what: str, *, missing_ok: bool = True) -> Mapping[str, Any]:
    """`value` as a JSON object; None counts as empty when the field is optional."""
    if value is None and missing_ok:
        return {}
    if type(value) is not dict and not isinstance(value, Mapping):  # decoded JSON: a dict, checked cheaply
        raise MalformedAnswer(f"{tracker} answered {what}: not a JSON object")
    return value


def items(value: Any, tracker: str, what: str) -> list[Any]:
    """`value` as a JSON array; None (an absent list) counts as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedAnswer(f"{tracker} answered {what}: not a list")
    return value


def text(value: Any) -> str | None:
    """An optional display string: anything else counts as absent."""
    return value if isinstance(value, str) and value else None


def maybe_run(tracker: str, translate: Callable[..., T], *args: Any) -> T | None:
    """One run translated, or None (and a log line) if it is malformed: the answer's other
    runs are kept."""
    try:
        return translate(*args)
    except MalformedAnswer as exc:
        log.warning("skipping one run of a %s answer: %s", tracker, exc)
        return None
