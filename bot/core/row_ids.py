"""Our row ids as they come back to us: in button values, form metadata and typed commands.

Slack returns a button's value and a form's private_metadata as we sent them, but a forged or
corrupted payload can carry any number. Ids are INTEGER columns, 32-bit on PostgreSQL (64-bit
on SQLite, which hands them out one at a time too, so never past 2**31 here); a bigger number
names no row, and both databases refuse it in a lookup with an error of their own.
"""

from __future__ import annotations

MAX_ROW_ID = 2**31 - 1


def row_id(value: object) -> int | None:
    """The id `value` names, or None when it can name none. Text must be ASCII digits:
    '²'.isdigit() is true yet int('²') raises, and int('١') reads 1."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 10):
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ROW_ID else None


def require_row_id(value: object) -> int:
    """row_id for code that treats a malformed value as ValueError, as int() would."""
    found = row_id(value)
    if found is None:
        raise ValueError("not one of our row ids")
    return found
