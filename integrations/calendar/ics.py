"""An iCalendar (RFC 5545) feed, written by hand: a handful of properties needs no library.

The rules that matter to calendar clients (https://www.rfc-editor.org/rfc/rfc5545):
- lines end in CRLF and are folded at 75 octets, continuation lines starting with one space
  (3.1), without splitting a UTF-8 character;
- TEXT values escape backslash, semicolon, comma and newline (3.3.11);
- an event keeps its UID forever; SEQUENCE grows when it is rescheduled or cancelled, so
  clients replace their copy (3.8.7.4); a cancelled event says STATUS:CANCELLED (3.8.1.11).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

CRLF = "\r\n"
MAX_OCTETS = 75
PRODID = "-//readybot//results reviews//EN"


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    sequence: int = 0
    cancelled: bool = False
    url: str | None = None


def calendar(name: str, events: Iterable[Event], stamp: datetime) -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",  # the name Apple and Google Calendar show for a feed
    ]
    for event in events:
        lines.extend(_event(event, stamp))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines).encode("utf-8")


def _event(event: Event, stamp: datetime) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape(event.uid)}",
        f"DTSTAMP:{utc(stamp)}",
        f"DTSTART:{utc(event.start)}",
        f"DTEND:{utc(event.end)}",
        f"SEQUENCE:{event.sequence}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
        f"SUMMARY:{escape(event.summary)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape(event.description)}")
    if event.url:
        lines.append(f"URL:{event.url}")  # a URI value, not TEXT: no escaping (3.3.13)
    lines.append("END:VEVENT")
    return lines


def utc(moment: datetime) -> str:
    """DATE-TIME in UTC form (3.3.5, FORM #2): 20261123T140000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """Split a content line into chunks of at most 75 octets (the leading space of a
    continuation counts), never inside a multi-byte character."""
    parts: list[str] = []
    current, size, limit = "", 0, MAX_OCTETS
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > limit:
            parts.append(current)
            current, size, limit = "", 0, MAX_OCTETS - 1
        current += char
        size += octets
    parts.append(current)
    return (CRLF + " ").join(parts)
