# A fake Jira Cloud REST API v3, following
# https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/#api-rest-api-3-myself-get and
# https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
# Reproduced: basic auth with email + API token (HTTP 401 and an `errorMessages` body otherwise,
# https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/); an issue as
# {"id", "key", "self", "fields": {"summary", "status": {"name", "statusCategory"}, "assignee": user | null}};
# an unknown or invisible issue as 404 with "Issue does not exist or you do not have permission
# to see it."; rate limits as 429 with Retry-After
# (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/), via FakeServer.rate_limit_next.
"""Fake Jira Cloud server for integration tests."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes import FakeServer, Recorded, Reply

_CATEGORIES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}


class JiraServer(FakeServer):
    def __init__(self, email: str = "alice@example.com", token: str = "jira-token-0123456789") -> None:
        super().__init__()
        self.email, self.token = email, token
        self.issues: dict[str, dict[str, Any]] = {}

    def add_issue(self, key: str, summary: str, status: str = "To Do", assignee: str | None = None) -> None:
        number = 10000 + len(self.issues)
        self.issues[key] = {
            "id": str(number),
            "key": key,
            "self": f"{self.url}rest/api/3/issue/{number}",
            "fields": {
                "summary": summary,
                "status": {"name": status, "statusCategory": {"key": _CATEGORIES.get(status, "indeterminate"),
                                                              "name": status}},
                "assignee": None if assignee is None else {
                    "accountId": f"5b10ac8d82e05b22cc7d4e{number}", "displayName": assignee, "active": True},
            },
        }

    def handle(self, request: Recorded) -> Reply:
        if not self._authorized(request.headers.get("Authorization", "")):
            return Reply(401, {"errorMessages": ["Client must be authenticated to access this resource."],
                               "errors": {}})
        path = request.path.removeprefix(self.prefix)
        if request.method == "GET" and path == "rest/api/3/myself":
            return Reply(200, {"accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": self.email,
                               "displayName": "Alice Example", "active": True, "timeZone": "Europe/Berlin"})
        if request.method == "GET" and path.startswith("rest/api/3/issue/"):
            issue = self.issues.get(path.removeprefix("rest/api/3/issue/"))
            if issue is None:
                return Reply(404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                                   "errors": {}})
            return Reply(200, issue)
        return Reply(404, {"errorMessages": ["Not found"], "errors": {}})

    def _authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme != "Basic":
            return False
        try:
            return base64.b64decode(value).decode() == f"{self.email}:{self.token}"
        except ValueError:
            return False
