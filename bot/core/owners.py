"""What a tracker's "owner" of a run says about a person. Pure.

Trackers name a run's owner in their own terms: MLflow a login or an email (and "unknown" when
the training script could not tell), W&B and Comet a username, a pushed run whatever the script
sent, which may be a Slack user id. `read_owner` sorts them out, so the Slack edge knows which
lookup can turn the owner into a person: a `/ready me` claim for any of them, users.info for an
id, users.lookupByEmail for an email. A bare id is never shown as text (it means nothing to a
reader), and neither is a placeholder such as "unknown".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# What trackers write when they do not know (MLflow's default user is "unknown").
PLACEHOLDERS = {"unknown", "none", "null", "n/a", "-", "?", "anonymous"}
# A Slack user id has a digit (U024BE7LH, or U3 in a sandbox): "UBUNTU" is a username.
_SLACK_ID = re.compile(r"<?@?([UW](?=[A-Z0-9]*[0-9])[A-Z0-9]{1,30})(?:\|[^>]*)?>?")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
MAX_NAME = 200


@dataclass(frozen=True)
class TrackerOwner:
    """The owner as the tracker gave it: `key` is how a `/ready me` claim matches it; exactly one
    of `slack_id`, `email` or `name` says what it looks like."""

    key: str
    slack_id: str | None = None
    email: str | None = None
    name: str | None = None


def read_owner(raw: object) -> TrackerOwner | None:
    """None when the tracker named nobody (missing, empty, a placeholder)."""
    if not isinstance(raw, str):
        return None
    text = " ".join(_printable(raw).split())[:MAX_NAME]
    if not text or text.lower() in PLACEHOLDERS:
        return None
    key = username_key(text)
    if match := _SLACK_ID.fullmatch(text):
        return TrackerOwner(key=key, slack_id=match[1])
    if _EMAIL.fullmatch(text):
        return TrackerOwner(key=key, email=text.lower())
    return TrackerOwner(key=key, name=text)


def username_key(username: str) -> str:
    """How a tracker username is matched: case, surrounding spaces and control characters do not
    matter (an owner is read without them, so a claim must be matched without them too)."""
    return " ".join(_printable(username).split()).lower()


def _printable(text: str) -> str:
    """Without control characters other than spaces: a pushed owner is whatever the script sent,
    and a NUL or a bell in it broke the claim lookup on PostgreSQL and would reach the message.
    Tabs and newlines stay, as the spaces the caller folds them into."""
    return "".join(c for c in text if c.isspace() or unicodedata.category(c) != "Cc")


def tracker_key(tracker: str) -> str:
    """A `/ready me` tracker is a connection name or a kind, matched ignoring case."""
    return tracker.strip().lower()
