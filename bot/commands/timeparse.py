"""Times of day, weekdays, review times and durations, as people type them in Slack."""

import datetime as dt
import re

from .lexer import Fail, Token, show
from .types import When

_CLOCK_24 = re.compile(r"(\d{1,2}):(\d{2})", re.ASCII)
_CLOCK_12 = re.compile(r"(\d{1,2})(?::(\d{2}))?([ap])\.?m\.?", re.ASCII | re.IGNORECASE)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MERIDIEM = {"am", "pm", "a.m.", "p.m."}
# Longest spelling first: finditer takes the first alternative that matches.
_DURATION_PART = re.compile(r"(\d+)(days?|d|hours?|hrs?|h|minutes?|mins?|m)", re.ASCII)
_UNIT_MINUTES = {"d": 24 * 60, "h": 60, "m": 1}
_MAX_MINUTES = 10**9  # far beyond any sane duration, well inside timedelta's range

_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Hard-coded rather than `calendar.day_name`, which follows the server's locale.
DAY_NAMES = {
    **{name: i for i, name in enumerate(_FULL_NAMES)},
    **{name[:3]: i for i, name in enumerate(_FULL_NAMES)},
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
_DAY_SETS = {
    "weekdays": range(5),
    "weekday": range(5),
    "weekends": range(5, 7),
    "weekend": range(5, 7),
    "daily": range(7),
    "everyday": range(7),
}
WORKWEEK = frozenset(range(5))

_TIME_HINT = "use HH:MM (24h, 00:00 to 23:59) or 2pm / 2:30pm"
_DAYS_HINT = "use e.g. `mon,wed,fri`, `mon-fri`, `weekdays`, `weekends` or `daily`"
_WHEN_HINT = "use `YYYY-MM-DD HH:MM`, `today HH:MM`, `tomorrow HH:MM` or a weekday like `fri 14:00`"


def try_clock(text: str) -> dt.time | None:
    """None if `text` does not look like a time at all; Fail if it does but is out of range."""
    if m := _CLOCK_24.fullmatch(text):
        hour, minute, pm = int(m[1]), int(m[2]), None
        valid = hour <= 23 and minute <= 59
    elif m := _CLOCK_12.fullmatch(text):
        hour, minute, pm = int(m[1]), int(m[2] or 0), m[3].lower() == "p"
        valid = 1 <= hour <= 12 and minute <= 59
    else:
        return None
    if not valid:
        raise Fail(f"{show(text)} is not a time of day; {_TIME_HINT}")
    if pm is not None:
        hour = hour % 12 + (12 if pm else 0)  # 12am is midnight, 12pm is noon
    return dt.time(hour, minute)


def _merge_meridiem(words: list[str]) -> list[str]:
    # `2 pm` arrives as two tokens; glue it back into `2pm`.
    merged: list[str] = []
    for word in words:
        if merged and word.lower() in _MERIDIEM:
            merged[-1] += word
        else:
            merged.append(word)
    return merged


def parse_clock(tokens: list[Token], after: str) -> dt.time:
    words = _merge_meridiem([t.text for t in tokens])
    if not words:
        raise Fail(f"missing the time after `{after}`; {_TIME_HINT}")
    if len(words) > 1:
        raise Fail(f"unexpected {show(words[1])} after the time")
    clock = try_clock(words[0])
    if clock is None:
        raise Fail(f"{show(words[0])} is not a time; {_TIME_HINT}")
    return clock


def parse_when(tokens: list[Token]) -> When:
    """`<day> <time>` or `<time> <day>`; a time alone means today."""
    words = _merge_meridiem([t.text for t in tokens])
    if not words:
        raise Fail(f"missing the time after `at`; {_WHEN_HINT}")
    if len(words) > 2:
        raise Fail(f"unexpected {show(words[2])} after the time")
    clocks = [try_clock(w) for w in words]
    if len(words) == 1:
        if clocks[0] is not None:
            return When(None, None, 0, clocks[0])
        _day(words[0], dt.time())  # says "not a day" when it is neither
        raise Fail(f"missing the time after {show(words[0])}, e.g. `{words[0].lower()} 14:00`")
    if clocks[1] is not None:
        return _day(words[0], clocks[1])
    if clocks[0] is not None:
        return _day(words[1], clocks[0])
    raise Fail(f"{show(words[1])} is not a time; {_TIME_HINT}")


def _day(word: str, clock: dt.time) -> When:
    low = word.lower()
    if low in ("today", "tomorrow"):
        return When(None, None, 0 if low == "today" else 1, clock)
    if low in DAY_NAMES:
        return When(None, DAY_NAMES[low], None, clock)
    if _DATE.fullmatch(word):
        try:
            return When(dt.date.fromisoformat(word), None, None, clock)
        except ValueError:
            raise Fail(f"{show(word)} is not a date on the calendar") from None
    raise Fail(f"{show(word)} is not a day; {_WHEN_HINT}")


def parse_days(tokens: list[Token]) -> frozenset[int]:
    text = " ".join(t.text for t in tokens).lower()
    text = re.sub(r"\s*-\s*", "-", text)  # `mon - fri`
    text = re.sub(r"\bevery\s+day\b", "everyday", text)
    parts = [p for p in re.split(r"[,\s]+", text) if p and p != "and"]
    if not parts:
        raise Fail(f"missing the days after `on`; {_DAYS_HINT}")
    days: set[int] = set()
    for part in parts:
        days.update(_day_group(part))
    return frozenset(days)


def _day_group(part: str) -> list[int]:
    if part in _DAY_SETS:
        return list(_DAY_SETS[part])
    first, dash, last = part.partition("-")
    if not dash:
        return [_weekday(part)]
    start, end = _weekday(first), _weekday(last)
    # Ranges may wrap around the weekend: `fri-mon` is Friday to Monday.
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _weekday(word: str) -> int:
    if word not in DAY_NAMES:
        raise Fail(f"{show(word)} is not a day of the week; {_DAYS_HINT}")
    return DAY_NAMES[word]


def parse_duration(tokens: list[Token], after: str) -> dt.timedelta:
    """`2h`, `90m`, `1h30m`, `1d`, `45 min`, `2 hours`: number-unit pairs, no fractions."""
    text = re.sub(r"\s+", "", "".join(t.text for t in tokens)).lower()
    if not text:
        raise Fail(f"missing the duration after `{after}`, e.g. `{after} 2h`")
    pos, minutes = 0, 0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos or len(m[1]) > 6:
            break
        minutes += int(m[1]) * _UNIT_MINUTES[m[2][0]]
        pos = m.end()
    if pos == 0 or pos != len(text):
        raise Fail(f"{show(text)} is not a duration; use e.g. 2h, 90m, 1h30m, 1d or 45 min")
    return dt.timedelta(minutes=min(minutes, _MAX_MINUTES))
