"""Jira Cloud, REST API v3: who the credentials are, and one issue's summary, status, assignee.

https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/#api-rest-api-3-myself-get
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
Auth is basic with the account's email and an API token:
https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from integrations.base import ConnectionInfo
from integrations.errors import MalformedAnswer, TrackerError
from integrations.http import TrackerHttp
from integrations.issues.base import LOOKUP_HTTP, IssueInfo


class JiraIssues:
    """One Jira site, seen with one account's API token."""

    def __init__(self, info: ConnectionInfo):
        email, _, token = (info.secret or "").partition(":")
        if not email or not token:
            raise TrackerError("Jira needs `key=<email>:<api-token>`", permanent=True)
        self.site = info.url.rstrip("/")
        self.http = TrackerHttp(self.site, headers={"Accept": "application/json"}, auth=(email, token),
                                **LOOKUP_HTTP, policy=info.outbound)

    def check(self) -> str:
        me = self.http.get("rest/api/3/myself")
        if not isinstance(me, dict) or not isinstance(me.get("displayName"), str):
            raise MalformedAnswer("Jira's /myself answer has no displayName")
        return me["displayName"]

    def lookup(self, key: str) -> IssueInfo | None:
        try:
            issue = self.http.get(f"rest/api/3/issue/{quote(key)}", params={"fields": "summary,status,assignee"})
        except TrackerError as exc:
            if exc.status == 404:  # no such issue, or not visible to this account: Jira says the same
                return None
            raise
        return _issue(issue, key, self.site)


def _issue(body: Any, key: str, site: str) -> IssueInfo:
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict) or not isinstance(fields.get("summary"), str):
        raise MalformedAnswer("Jira issue answer has no fields.summary")
    status = fields.get("status")
    assignee = fields.get("assignee")
    name = status.get("name") if isinstance(status, dict) else None
    who = assignee.get("displayName") if isinstance(assignee, dict) else None
    real_key = body.get("key") if isinstance(body.get("key"), str) else key
    return IssueInfo(key=real_key, title=fields["summary"], status=name if isinstance(name, str) else "unknown",
                     assignee=who if isinstance(who, str) else None, url=f"{site}/browse/{quote(real_key)}")
