"""GitHub Issues, REST API: who the token is, and one issue's (or pull request's) title and state.

https://docs.github.com/en/rest/users/users#get-the-authenticated-user
https://docs.github.com/en/rest/issues/issues#get-an-issue
Every pull request is an issue too, so `owner/repo#N` is looked up the same way either way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from integrations.base import ConnectionInfo
from integrations.errors import MalformedAnswer, TrackerError
from integrations.http import TrackerHttp
from integrations.issues.base import LOOKUP_HTTP, IssueInfo

# https://docs.github.com/en/rest/about-the-rest-api/api-versions
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubIssues:
    """GitHub (or GitHub Enterprise's API root), seen with one token."""

    def __init__(self, info: ConnectionInfo):
        if not info.secret:
            raise TrackerError("GitHub needs `key=<token>`", permanent=True)
        self.http = TrackerHttp(info.url, headers={**HEADERS, "Authorization": f"Bearer {info.secret}"},
                                **LOOKUP_HTTP, policy=info.outbound)

    def check(self) -> str:
        me = self.http.get("user")
        if not isinstance(me, dict) or not isinstance(me.get("login"), str):
            raise MalformedAnswer("GitHub's /user answer has no login")
        return me["login"]

    def lookup(self, key: str) -> IssueInfo | None:
        repo, _, number = key.partition("#")
        owner, _, name = repo.partition("/")
        try:
            issue = self.http.get(f"repos/{quote(owner)}/{quote(name)}/issues/{int(number)}")
        except TrackerError as exc:
            if exc.status in (404, 410):  # unknown, private to others, or deleted (410 Gone)
                return None
            raise
        return _issue(issue, key)


def _issue(body: Any, key: str) -> IssueInfo:
    if not isinstance(body, dict) or not isinstance(body.get("title"), str):
        raise MalformedAnswer("GitHub issue answer has no title")
    assignee = body.get("assignee")
    login = assignee.get("login") if isinstance(assignee, dict) else None
    url = body.get("html_url")
    return IssueInfo(key=key, title=body["title"], status=_status(body),
                     assignee=login if isinstance(login, str) else None, url=url if isinstance(url, str) else None)


def _status(body: dict[str, Any]) -> str:
    state = body.get("state") if isinstance(body.get("state"), str) else "unknown"
    pull = body.get("pull_request")
    if isinstance(pull, dict) and pull.get("merged_at"):
        return "merged"
    if state == "closed" and body.get("state_reason") == "not_planned":
        return "closed (not planned)"
    return state
