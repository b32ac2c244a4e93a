"""Issue trackers that standup answers point at: Jira Cloud and GitHub Issues.

Unlike the experiment trackers next door they are never polled: readybot only looks up the
references a member wrote (`PROJ-123`, `owner/repo#45`) to show each one's title and status."""

from __future__ import annotations

from integrations.base import ConnectionInfo
from integrations.issues.base import GITHUB_API, ISSUE_KINDS, IssueInfo, IssueTracker
from integrations.issues.github import GitHubIssues
from integrations.issues.jira import JiraIssues

__all__ = ["GITHUB_API", "ISSUE_KINDS", "IssueInfo", "IssueTracker", "issue_tracker"]


def issue_tracker(info: ConnectionInfo) -> IssueTracker:
    """The client for one issue-tracker connection, under the install's outbound policy."""
    makers = {"jira": JiraIssues, "github": GitHubIssues}
    if info.kind not in makers:
        raise ValueError(f"unknown issue tracker kind {info.kind!r}")
    return makers[info.kind](info)
