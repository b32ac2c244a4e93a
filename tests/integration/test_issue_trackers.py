"""The Jira and GitHub clients against local fakes of their documented REST APIs."""

from __future__ import annotations

import pytest

from integrations.base import ConnectionInfo
from integrations.errors import TrackerError
from integrations.issues import issue_tracker
from tests.fakes.github_server import GitHubServer
from tests.fakes.jira_server import JiraServer

JIRA_KEY = "alice@example.com:jira-token-0123456789"
GH_TOKEN = "ghp_test0123456789abcdefghij"


@pytest.fixture
def jira():
    with JiraServer() as server:
        server.add_issue("ML-12", "Data loader drops the last batch", "In Progress", "Alice Example")
        server.add_issue("ML-13", "Unassigned cleanup")
        yield server


@pytest.fixture
def github():
    with GitHubServer(token=GH_TOKEN) as server:
        server.add_issue("acme/trainer", 7, "Mixed precision diverges", assignee="bob")
        server.add_issue("acme/trainer", 8, "Warmup schedule", state="closed", merged=True)
        server.add_issue("acme/trainer", 9, "Old idea", state="closed", state_reason="not_planned")
        yield server


def client(kind: str, url: str, secret: str):  # noqa: ANN201
    return issue_tracker(ConnectionInfo(kind=kind, name=kind, url=url, secret=secret))


def test_jira_check_names_the_account_and_lookup_gives_title_status_assignee(jira):
    tracker = client("jira", jira.url, JIRA_KEY)
    assert tracker.check() == "Alice Example"
    issue = tracker.lookup("ML-12")
    assert (issue.key, issue.title, issue.status, issue.assignee) == (
        "ML-12", "Data loader drops the last batch", "In Progress", "Alice Example")
    assert issue.url == jira.url.rstrip("/") + "/browse/ML-12"
    assert tracker.lookup("ML-13").assignee is None
    assert jira.requests[-1].query == {"fields": ["summary,status,assignee"]}  # only what is shown


def test_jira_unknown_issue_is_none_and_bad_credentials_never_echo_the_token(jira):
    assert client("jira", jira.url, JIRA_KEY).lookup("ML-999") is None
    with pytest.raises(TrackerError) as refused:
        client("jira", jira.url, "alice@example.com:wrong-token-987654321").check()
    assert refused.value.permanent and refused.value.status == 401
    assert "wrong-token" not in str(refused.value)
    with pytest.raises(TrackerError, match="email"):
        client("jira", jira.url, "just-a-token")


def test_jira_rate_limit_says_how_long_to_wait_without_retrying(jira):
    jira.rate_limit_next(30)
    with pytest.raises(TrackerError) as limited:
        client("jira", jira.url, JIRA_KEY).lookup("ML-12")
    assert limited.value.status == 429 and limited.value.retry_after == 30
    assert jira.count() == 1  # one attempt: a standup link is never worth a retry loop


def test_github_lookup_reads_issue_pull_request_and_closed_reasons(github):
    tracker = client("github", github.url, GH_TOKEN)
    assert tracker.check() == "octocat"
    open_issue = tracker.lookup("acme/trainer#7")
    assert (open_issue.title, open_issue.status, open_issue.assignee) == ("Mixed precision diverges", "open", "bob")
    assert open_issue.url == "https://github.com/acme/trainer/issues/7"
    assert tracker.lookup("acme/trainer#8").status == "merged"
    assert tracker.lookup("acme/trainer#9").status == "closed (not planned)"
    assert tracker.lookup("acme/other#1") is None
    sent = github.requests[-1].headers
    assert sent["Accept"] == "application/vnd.github+json" and sent["X-GitHub-Api-Version"] == "2022-11-28"


def test_github_bad_token_and_spent_quota_are_told_apart(github):
    with pytest.raises(TrackerError) as refused:
        client("github", github.url, "ghp_wrong000000000000000000").check()
    assert refused.value.status == 401 and "ghp_wrong" not in str(refused.value)
    github.remaining = 0
    with pytest.raises(TrackerError) as limited:
        client("github", github.url, GH_TOKEN).lookup("acme/trainer#7")
    # A 403 with x-ratelimit-remaining: 0 is a rate limit, not a refused token.
    assert limited.value.status == 429 and not limited.value.permanent
    assert 3500 < limited.value.retry_after <= 3600
