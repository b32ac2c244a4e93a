"""Issue references in a standup answer: `PROJ-123` (Jira) and `owner/repo#45` (GitHub).

Pure: finds what an answer points at and says how to show it once looked up. The lookups
themselves are in integrations/issues/."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from integrations.issues.base import IssueInfo

MAX_REFS = 10  # per answer: a standup names a handful of tickets, never a backlog

# Jira keys: a project key (a capital letter, then capitals/digits/underscores) and a number.
# https://support.atlassian.com/jira-software-cloud/docs/what-is-an-issue/#Issue-keys
_JIRA = re.compile(r"(?<![\w/#-])([A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8})(?![\w-])")
# GitHub: `owner/repo#123`, the short form GitHub itself links in comments.
# https://docs.github.com/en/get-started/writing-on-github/working-with-advanced-formatting/autolinked-references-and-urls#issues-and-pull-requests
_GITHUB = re.compile(
    r"(?<![\w./-])([A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100})#([1-9][0-9]{0,8})(?![\w])"
)


@dataclass(frozen=True)
class IssueRef:
    kind: str  # "jira" or "github"
    key: str  # PROJ-123, or owner/repo#45

    @property
    def github_parts(self) -> tuple[str, str, int]:
        repo, _, number = self.key.partition("#")
        owner, _, name = repo.partition("/")
        return owner, name, int(number)


def find_refs(texts: Iterable[str], kinds: Iterable[str]) -> list[IssueRef]:
    """The references in `texts` that a connected kind can look up, first seen first, no repeats."""
    kinds = set(kinds)
    found: list[IssueRef] = []
    for text in texts:
        text = text or ""
        candidates: list[tuple[int, IssueRef]] = []
        if "github" in kinds:
            candidates += [(m.start(), IssueRef("github", f"{m[1]}#{m[2]}")) for m in _GITHUB.finditer(text)]
        if "jira" in kinds:
            candidates += [(m.start(), IssueRef("jira", m[1])) for m in _JIRA.finditer(text)]
        for _, ref in sorted(candidates, key=lambda pair: pair[0]):
            if ref not in found:
                found.append(ref)
    return found[:MAX_REFS]


def link_line(info: IssueInfo) -> dict[str, str]:
    """The template's view of one looked-up issue; the template escapes every field."""
    detail = info.status + (f" · {info.assignee}" if info.assignee else "")
    return {"key": info.key, "title": info.title[:150], "detail": detail[:80], "url": info.url or ""}
