# A fake GitHub REST API, following https://docs.github.com/en/rest/users/users#get-the-authenticated-user
# and https://docs.github.com/en/rest/issues/issues#get-an-issue.
# Reproduced: `Authorization: Bearer <token>` (401 {"message": "Bad credentials", "documentation_url"}
# otherwise); an issue with number, title, state ("open"/"closed"), state_reason, html_url, assignee
# (a user or null) and, for a pull request, a `pull_request` object with merged_at; 404
# {"message": "Not Found"} for an unknown or invisible repository or issue; the primary rate limit
# (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api): every answer
# carries x-ratelimit-limit / -remaining / -reset, and once the quota is spent the answer is 403
# with x-ratelimit-remaining: 0 and the reset epoch.
"""Fake GitHub server for integration tests."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.fakes import FakeServer, Recorded, Reply

_ISSUE = re.compile(r"^repos/([^/]+)/([^/]+)/issues/(\d+)$")
DOCS = "https://docs.github.com/rest"


class GitHubServer(FakeServer):
    def __init__(self, token: str = "ghp_test0123456789abcdefghij", quota: int = 5000) -> None:
        super().__init__()
        self.token = token
        self.quota = self.remaining = quota
        self.issues: dict[tuple[str, str, int], dict[str, Any]] = {}

    def add_issue(self, repo: str, number: int, title: str, state: str = "open", assignee: str | None = None,
                  state_reason: str | None = None, merged: bool | None = None) -> None:
        owner, name = repo.split("/")
        issue: dict[str, Any] = {
            "id": 1000 + number, "number": number, "title": title, "state": state, "state_reason": state_reason,
            "html_url": f"https://github.com/{repo}/{'pull' if merged is not None else 'issues'}/{number}",
            "assignee": None if assignee is None else {"login": assignee, "id": 7, "type": "User"},
            "user": {"login": "octocat", "id": 1, "type": "User"},
        }
        if merged is not None:
            issue["pull_request"] = {"url": f"https://api.github.com/repos/{repo}/pulls/{number}",
                                     "merged_at": "2026-11-30T10:00:00Z" if merged else None}
        self.issues[(owner.lower(), name.lower(), number)] = issue

    def handle(self, request: Recorded) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"})
        reset = str(int(time.time()) + 3600)
        if self.remaining <= 0:
            return Reply(403, {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS},
                         self._limits(reset))
        self.remaining -= 1
        path = request.path.removeprefix(self.prefix)
        if path == "user":
            return Reply(200, {"login": "octocat", "id": 1, "type": "User"}, self._limits(reset))
        match = _ISSUE.match(path)
        issue = self.issues.get((match[1].lower(), match[2].lower(), int(match[3]))) if match else None
        if issue is None:
            return Reply(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"},
                         self._limits(reset))
        return Reply(200, issue, self._limits(reset))

    def _limits(self, reset: str) -> dict[str, str]:
        return {"x-ratelimit-limit": str(self.quota), "x-ratelimit-remaining": str(max(0, self.remaining)),
                "x-ratelimit-reset": reset, "x-ratelimit-resource": "core"}
