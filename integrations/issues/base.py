"""What an issue tracker answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

ISSUE_KINDS = ("jira", "github")
GITHUB_API = "https://api.github.com"
# One attempt, a short timeout: a link in a standup answer is a nicety, never worth a retry loop,
# and a rate limit is remembered by the caller instead of waited out.
LOOKUP_HTTP = {"timeout": 5.0, "retries": 0}


@dataclass(frozen=True)
class IssueInfo:
    """What the issue tracker said about one reference."""

    key: str
    title: str
    status: str
    assignee: str | None = None
    url: str | None = None


class IssueTracker(Protocol):
    def check(self) -> str:
        """Who the credentials belong to; raises TrackerError when they do not work."""

    def lookup(self, key: str) -> IssueInfo | None:
        """The issue, or None when it does not exist or these credentials cannot see it."""
