"""`standup|digest at <HH:MM> [on <days>]`, `... now`, `... off`."""

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from .lexer import Fail, Token, no_more, show, split_sections
from .timeparse import WORKWEEK, parse_clock, parse_days
from .types import DigestAt, DigestNow, DigestOff, StandupAt, StandupNow, StandupOff

At, Now, Off = TypeVar("At"), TypeVar("Now"), TypeVar("Off")


def parse_standup(args: list[Token]) -> StandupAt | StandupNow | StandupOff:
    return _schedule("standup", args, StandupAt, StandupNow, StandupOff)


def parse_digest(args: list[Token]) -> DigestAt | DigestNow | DigestOff:
    return _schedule("digest", args, DigestAt, DigestNow, DigestOff)


def _schedule(
    name: str,
    args: list[Token],
    at_cls: Callable[[dt.time, frozenset[int]], At],
    now_cls: Callable[[], Now],
    off_cls: Callable[[], Off],
) -> At | Now | Off:
    if not args:
        raise Fail(f"missing `at <HH:MM>`, `now` or `off` after `{name}`")
    word = args[0].keyword
    if word in ("now", "off"):
        no_more(args[1:])
        return now_cls() if word == "now" else off_cls()
    head, sections = split_sections(args, {"at", "on"})
    if head:
        raise Fail(f"expected `at <HH:MM>`, `now` or `off` after `{name}`, not {show(head[0].raw)}")
    if "at" not in sections:
        raise Fail(f"missing `at <HH:MM>`, e.g. `{name} at 09:30`")
    time = parse_clock(sections["at"], "at")
    days = parse_days(sections["on"]) if "on" in sections else WORKWEEK
    return at_cls(time, days)
