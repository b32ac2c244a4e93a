"""`review "<title>" at <when> runs <ref>[,<ref>...] [lead <duration>]` and `review cancel <id>`."""

import datetime as dt

from .lexer import Fail, Token, has_control_chars, no_more, show, split_sections
from .refs import parse_ref_list
from .targets import parse_id
from .timeparse import parse_duration, parse_when
from .types import ReviewAdd, ReviewCancel, ReviewModal

MAX_TITLE = 150
MIN_LEAD, MAX_LEAD = dt.timedelta(minutes=1), dt.timedelta(days=7)
_EXAMPLE = '`review "Ablation results" at fri 14:00 runs mlflow:3f2a`'


def parse_review(args: list[Token]) -> ReviewAdd | ReviewCancel | ReviewModal:
    if not args:
        return ReviewModal()
    if args[0].keyword == "cancel":
        return ReviewCancel(parse_id(args[1:], "review cancel", "/ready reviews"))
    head, sections = split_sections(args, {"at", "runs", "lead"})
    if not head and set(sections) == {"runs"}:
        # `review runs a,b`: the form opens with these runs filled in.
        return ReviewModal(parse_ref_list(sections["runs"], "runs"))
    title = _title(head)
    if "at" not in sections:
        raise Fail(f"missing `at <when>`, e.g. {_EXAMPLE}")
    if "runs" not in sections:
        raise Fail(f"missing `runs <ref>[,<ref>...]`, e.g. {_EXAMPLE}")
    when = parse_when(sections["at"])
    runs = parse_ref_list(sections["runs"], "runs")
    lead = _lead(sections["lead"]) if "lead" in sections else None
    return ReviewAdd(title, when, runs, lead)


def _title(head: list[Token]) -> str:
    if not head:
        raise Fail(f"missing the title in double quotes, e.g. {_EXAMPLE}")
    if not _fully_quoted(head[0].raw):
        words = " ".join(t.text for t in head)
        raise Fail(f"put the title in double quotes: {show(chr(34) + words + chr(34), 60)}")
    no_more(head[1:])
    # Line breaks and tabs inside the quotes would break the one-line review header.
    title = " ".join(head[0].text.split())
    if not title:
        raise Fail("the title is empty")
    if len(title) > MAX_TITLE:
        raise Fail(f"the title is too long ({len(title)} characters; at most {MAX_TITLE})")
    if has_control_chars(title):
        raise Fail("the title contains control characters")
    return title


def _fully_quoted(raw: str) -> bool:
    return len(raw) >= 2 and raw[0] == raw[-1] == '"' and raw.count('"') == 2


def _lead(tokens: list[Token]) -> dt.timedelta:
    lead = parse_duration(tokens, "lead")
    if not MIN_LEAD <= lead <= MAX_LEAD:
        typed = " ".join(t.text for t in tokens)
        raise Fail(f"the lead must be between 1 minute and 7 days, not {show(typed)}")
    return lead
